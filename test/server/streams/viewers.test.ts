/**
 * ViewerSet with fake viewer peers and a real VideoFanout: add returns the viewer id and the
 * peer's answer and feeds the peer from the fan-out; the viewer limit (joins in progress count);
 * remove, a peer that closes by itself, close() (and adds during or after it), a failing
 * createPeer leaving no viewer and no slot taken, key-frame requests and stats().
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { RtpPacket } from 'werift';
import { ClosedError, SdpError, ViewerLimitError } from '../../../server/shared/errors.js';
import { VideoFanout } from '../../../server/streams/fanout.js';
import { ViewerSet, type CreateViewerPeer } from '../../../server/streams/viewers.js';
import type { CloseReason, KeyframeRequestSource, PeerSession, VideoCodecName } from '../../../server/webrtc/index.js';

/**
 * Just the part of PeerSession that ViewerSet uses (answerSdp, sendRtp, onKeyframeRequest,
 * onClosed, startIdleTimer, close, stats), so no werift peer connection, socket or ICE is involved. It is cast
 * to PeerSession with `as unknown as` where createPeer returns it; ViewerSet touches nothing else.
 */
class FakePeer {
  readonly answerSdp: string;
  readonly sent: { packets: readonly RtpPacket[]; keyframe: boolean }[] = [];
  closeCalls = 0;
  closed = false;
  /** Set when ViewerSet hands the answer back: the idle timeout counts from then. */
  idleTimerStarted = false;
  readonly #keyframeListeners = new Set<(s: KeyframeRequestSource) => void>();
  readonly #closedListeners = new Set<(r: CloseReason) => void>();

  constructor(
    readonly offerSdp: string,
    readonly codec: VideoCodecName,
  ) {
    this.answerSdp = `answer to ${offerSdp}`;
  }

  startIdleTimer(): void {
    this.idleTimerStarted = true;
  }

  async sendRtp(packets: readonly RtpPacket[], keyframe: boolean): Promise<boolean> {
    if (this.closed) return false;
    this.sent.push({ packets, keyframe });
    return true;
  }

  onKeyframeRequest(cb: (s: KeyframeRequestSource) => void): () => void {
    this.#keyframeListeners.add(cb);
    return () => this.#keyframeListeners.delete(cb);
  }

  /** Like PeerSession: called once after closing; next microtask when already closed. */
  onClosed(cb: (r: CloseReason) => void): () => void {
    if (this.closed) {
      queueMicrotask(() => cb('closed'));
      return () => {};
    }
    this.#closedListeners.add(cb);
    return () => this.#closedListeners.delete(cb);
  }

  get listeners(): number {
    return this.#keyframeListeners.size + this.#closedListeners.size;
  }

  requestKeyframeFromBrowser(source: KeyframeRequestSource): void {
    for (const cb of this.#keyframeListeners) cb(source);
  }

  /** The connection went away by itself (ICE failure, browser tab closed). */
  drop(reason: CloseReason = 'disconnected'): void {
    this.closed = true;
    const listeners = [...this.#closedListeners];
    this.#closedListeners.clear();
    for (const cb of listeners) cb(reason);
  }

  async close(): Promise<void> {
    this.closeCalls++;
    if (!this.closed) this.drop('closed');
  }

  stats() {
    return { connectionState: this.closed ? 'closed' : 'connected', framesOut: this.sent.length, keyframesOut: 1, plisReceived: 2 };
  }
}

function setup(opts: { maxViewers?: number; createPeer?: CreateViewerPeer } = {}) {
  const peers: FakePeer[] = [];
  const changes: number[] = [];
  let keyframeRequests = 0;
  let keyframesNeeded = 0;
  const fanout = new VideoFanout({ codec: 'vp8', onKeyframeNeeded: () => keyframesNeeded++ });
  const viewers = new ViewerSet({
    fanout,
    maxViewers: opts.maxViewers ?? 4,
    createPeer:
      opts.createPeer ??
      (async (offer, codec) => {
        const peer = new FakePeer(offer, codec);
        peers.push(peer);
        return peer as unknown as PeerSession;
      }),
    onKeyframeRequest: () => keyframeRequests++,
    onChange: (n) => changes.push(n),
    logger: pino({ level: 'silent' }),
    retryAfterS: 7,
  });
  return {
    fanout,
    viewers,
    peers,
    changes,
    keyframeRequests: () => keyframeRequests,
    keyframesNeeded: () => keyframesNeeded,
  };
}

/** A createPeer whose peers are handed out by hand, to hold joins in progress. */
function heldPeers() {
  const pending: { offer: string; codec: VideoCodecName; resolve: (p: PeerSession) => void; reject: (e: Error) => void }[] = [];
  const createPeer: CreateViewerPeer = (offer, codec) =>
    new Promise<PeerSession>((resolve, reject) => pending.push({ offer, codec, resolve, reject }));
  const finish = (i = 0): FakePeer => {
    const p = pending.splice(i, 1)[0]!;
    const peer = new FakePeer(p.offer, p.codec);
    p.resolve(peer as unknown as PeerSession);
    return peer;
  };
  return { createPeer, pending, finish };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ViewerSet', () => {
  it('add creates a peer for the stream codec, returns its id and answer, and feeds it from the fan-out', async () => {
    const t = setup();
    const { viewerId, answerSdp } = await t.viewers.add('offer-1');
    assert.match(viewerId, /^[0-9a-f-]{36}$/);
    assert.equal(answerSdp, 'answer to offer-1');
    assert.equal(t.peers[0]!.codec, 'vp8');
    assert.ok(t.viewers.has(viewerId));
    assert.equal(t.viewers.size, 1);
    assert.equal(t.viewers.joined, 1);
    assert.deepEqual(t.changes, [1]);
    assert.equal(t.fanout.size, 1);
    assert.equal(t.keyframesNeeded(), 1, 'the fan-out asks for a key frame for the new viewer');

    t.fanout.write({ data: Buffer.alloc(20, 0), keyframe: true, ptsMs: 0 });
    await t.fanout.flush();
    assert.equal(t.peers[0]!.sent.length, 1);
    assert.equal(t.peers[0]!.sent[0]!.keyframe, true);

    const second = await t.viewers.add('offer-2');
    assert.notEqual(second.viewerId, viewerId);
    assert.deepEqual(t.changes, [1, 2]);
  });

  it("forwards a viewer's key-frame requests", async () => {
    const t = setup();
    await t.viewers.add('offer');
    t.peers[0]!.requestKeyframeFromBrowser('pli');
    t.peers[0]!.requestKeyframeFromBrowser('connected');
    assert.equal(t.keyframeRequests(), 2);
  });

  it('refuses a viewer over the limit with ViewerLimitError and retryAfterS', async () => {
    const t = setup({ maxViewers: 2 });
    await t.viewers.add('a');
    await t.viewers.add('b');
    await assert.rejects(t.viewers.add('c'), (err: unknown) => {
      assert.ok(err instanceof ViewerLimitError);
      assert.equal(err.code, 'VIEWER_LIMIT');
      assert.equal(err.status, 503);
      assert.equal(err.retryAfterS, 7);
      assert.match(err.message, /2 viewer/);
      return true;
    });
    assert.equal(t.peers.length, 2, 'no peer was made for the refused viewer');
    assert.equal(t.viewers.size, 2);
  });

  it('counts joins still in progress against the limit', async () => {
    const held = heldPeers();
    const t = setup({ maxViewers: 1, createPeer: held.createPeer });
    const first = t.viewers.add('a');
    await assert.rejects(t.viewers.add('b'), ViewerLimitError);
    assert.equal(held.pending.length, 1);
    held.finish();
    await first;
    assert.equal(t.viewers.size, 1);
    await assert.rejects(t.viewers.add('c'), ViewerLimitError);
  });

  it('remove closes the peer, leaves the fan-out and reports the change', async () => {
    const t = setup();
    const { viewerId } = await t.viewers.add('a');
    await t.viewers.add('b');
    const peer = t.peers[0]!;
    assert.equal(await t.viewers.remove(viewerId), true);
    assert.equal(peer.closeCalls, 1);
    assert.equal(peer.listeners, 0, 'its listeners are detached');
    assert.equal(t.viewers.has(viewerId), false);
    assert.equal(t.viewers.size, 1);
    assert.equal(t.fanout.size, 1);
    assert.deepEqual(t.changes, [1, 2, 1]);
    assert.equal(await t.viewers.remove(viewerId), false, 'a second remove finds nothing');
    assert.equal(await t.viewers.remove('no-such-viewer'), false);
    assert.deepEqual(t.changes, [1, 2, 1]);
    assert.equal(t.viewers.joined, 2, 'joined counts every viewer that ever joined');
  });

  it('removes a viewer whose peer closes by itself', async () => {
    const t = setup();
    const { viewerId } = await t.viewers.add('a');
    t.peers[0]!.drop('disconnected');
    await settle();
    assert.equal(t.viewers.has(viewerId), false);
    assert.equal(t.viewers.size, 0);
    assert.equal(t.fanout.size, 0);
    assert.deepEqual(t.changes, [1, 0]);
    // The slot is free again.
    await t.viewers.add('b');
    assert.equal(t.viewers.size, 1);
  });

  it('removes a viewer whose peer had already closed when it joined', async () => {
    const t = setup({
      createPeer: async (offer, codec) => {
        const peer = new FakePeer(offer, codec);
        peer.drop('ice-failed');
        return peer as unknown as PeerSession;
      },
    });
    const { viewerId } = await t.viewers.add('a');
    await settle();
    assert.equal(t.viewers.has(viewerId), false);
    assert.equal(t.fanout.size, 0);
  });

  it('close() closes every peer; later adds throw ClosedError', async () => {
    const t = setup();
    await t.viewers.add('a');
    await t.viewers.add('b');
    await t.viewers.close();
    assert.deepEqual(t.peers.map((p) => p.closeCalls), [1, 1]);
    assert.equal(t.viewers.size, 0);
    assert.equal(t.fanout.size, 0);
    await t.viewers.close(); // idempotent
    assert.deepEqual(t.peers.map((p) => p.closeCalls), [1, 1]);
    await assert.rejects(t.viewers.add('c'), (err: unknown) => err instanceof ClosedError && err.status === 410);
    assert.equal(t.peers.length, 2, 'no peer made after close');
  });

  it('a join that finishes after close() closes its peer and throws ClosedError', async () => {
    const held = heldPeers();
    const t = setup({ createPeer: held.createPeer });
    const joining = t.viewers.add('a');
    const closing = t.viewers.close();
    const peer = held.finish();
    await assert.rejects(joining, ClosedError);
    await closing;
    assert.equal(peer.closeCalls, 1);
    assert.equal(t.viewers.size, 0);
    assert.equal(t.fanout.size, 0);
  });

  it('a createPeer that throws leaves no viewer and no slot taken', async () => {
    let fail = true;
    const t = setup({
      maxViewers: 1,
      createPeer: async (offer, codec) => {
        if (fail) throw new SdpError('offer SDP is empty');
        return new FakePeer(offer, codec) as unknown as PeerSession;
      },
    });
    await assert.rejects(t.viewers.add(''), SdpError);
    assert.equal(t.viewers.size, 0);
    assert.equal(t.viewers.joined, 0);
    assert.equal(t.fanout.size, 0);
    assert.deepEqual(t.changes, []);
    fail = false;
    await t.viewers.add('good offer');
    assert.equal(t.viewers.size, 1);
  });

  it('stats() lists each viewer with its peer counters', async () => {
    const t = setup();
    const { viewerId } = await t.viewers.add('a');
    assert.deepEqual(t.viewers.stats(), [
      { id: viewerId, connectionState: 'connected', framesOut: 0, keyframesOut: 1, plisReceived: 2 },
    ]);
  });
});

/**
 * WHIP ingest and WHEP playback over real HTTP and real werift peers: a publisher sends encoded
 * frames, viewers receive the translated stream, a silent publisher is noticed, and streams of
 * one model can share a batched session.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, waitFor } from '../../helpers/app.js';
import type { BrowserPeer } from '../webrtc/browser-peer.js';
import { browserOffer, VP8 } from '../webrtc/offers.js';
import { encodeFrames } from '../webrtc/encode.js';
import type { StreamSummary } from '../../../server/contract/index.js';
import { OPERATOR, TOKEN, errorOf, post, pump, readEvents, whep, whip } from './stream-helpers.js';

test('WHIP publisher, two WHEP viewers: one encode fanned out, a leaving viewer does not disturb the other', { timeout: 90_000 }, async (t) => {
  const srv = await startTestApp({ ingestTokens: [TOKEN], operatorTokens: [OPERATOR], maxViewersPerStream: 2 });
  const peers: BrowserPeer[] = [];
  let sender: { stop(): Promise<void> } | undefined;
  try {
    const { publisher, res, answer } = await whip(srv.url);
    peers.push(publisher);
    assert.equal(res.status, 201, answer);
    assert.equal(res.headers.get('content-type'), 'application/sdp');
    const streamId = res.headers.get('x-stream-id')!;
    assert.match(streamId, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get('location'), `/whip/invert/${streamId}`);
    assert.match(res.headers.get('link')!, new RegExp(`/api/streams/${streamId}>; rel="describedby"`));
    await publisher.acceptAnswer(answer);
    await publisher.connected();
    sender = pump(publisher, encodeFrames({ codec: 'h264', width: 320, height: 240, count: 60, forceKeyframes: [30] }));

    // Nobody watching yet: the model stays idle.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(srv.app.health().modelRuns, 0);

    const a = await whep(srv.url, streamId);
    const b = await whep(srv.url, streamId);
    peers.push(a.viewer, b.viewer);
    assert.equal(a.res.status, 201);
    assert.equal(b.res.status, 201);
    assert.match(a.res.headers.get('location')!, new RegExp(`^/whep/${streamId}/[0-9a-f-]{36}$`));

    // A third viewer is over the limit of two.
    const c = await whep(srv.url, streamId);
    peers.push(c.viewer);
    assert.equal(c.res.status, 503);
    assert.equal(c.res.headers.get('retry-after'), '10');
    assert.equal((await errorOf(c.res)).code, 'VIEWER_LIMIT');

    assert.ok(await waitFor(() => a.viewer.received.length >= 10 && b.viewer.received.length >= 10, 15_000), `viewers got ${a.viewer.received.length} / ${b.viewer.received.length} frames`);
    // Each viewer's first frame is a key frame: it joined at one.
    assert.equal(a.viewer.received[0]!.keyframe, true);
    assert.equal(b.viewer.received[0]!.keyframe, true);

    // With tokens configured, the list of every stream is for operators.
    const list = (await (await fetch(`${srv.url}/api/streams`, { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as { streams: StreamSummary[] };
    assert.equal(list.streams.length, 1);
    const s = list.streams[0]!;
    assert.equal(s.id, streamId);
    assert.equal(s.source, 'whip');
    assert.equal(s.viewers, 2);
    assert.equal(s.codec, 'h264');
    // One model run per encoded frame, and every run counted by the host is this stream's.
    assert.ok(s.modelRuns > 0);
    assert.ok(Math.abs(s.framesEncoded - s.modelRuns) <= 2, `runs ${s.modelRuns}, encoded ${s.framesEncoded}`);
    const hostRuns = srv.app.health().modelRuns;
    assert.ok(hostRuns >= s.modelRuns && hostRuns <= s.modelRuns + 2, `host ${hostRuns}, stream ${s.modelRuns}`);
    const delivered = a.viewer.received.length + b.viewer.received.length;
    assert.ok(delivered > s.modelRuns, `${delivered} frames delivered from ${s.modelRuns} model runs`);
    t.diagnostic(`model runs ${s.modelRuns}, encoded ${s.framesEncoded}, delivered ${delivered}`);

    // Viewer A leaves; B keeps receiving.
    const del = await fetch(`${srv.url}${a.res.headers.get('location')}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    const bBefore = b.viewer.received.length;
    assert.ok(await waitFor(() => b.viewer.received.length >= bBefore + 15, 10_000), 'viewer B stalled after A left');
    const one = (await (await fetch(`${srv.url}/api/streams/${streamId}`)).json()) as StreamSummary;
    assert.equal(one.viewers, 1);

    // The publisher ends the stream with DELETE on its Location.
    const end = await fetch(`${srv.url}${res.headers.get('location')}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(end.status, 200);
    assert.equal((await fetch(`${srv.url}/api/streams/${streamId}`)).status, 404);
    const h = srv.app.health();
    assert.deepEqual([h.sessions, h.openCodecs, h.openModelSessions, h.openPeers], [0, 0, 0, 0]);
  } finally {
    await sender?.stop();
    for (const p of peers) await p.close();
    await srv.close();
  }
});

test('a publisher that vanishes: viewers hear "offline" within the idle timeout, and everything is freed', { timeout: 60_000 }, async (t) => {
  const srv = await startTestApp({ ingestTokens: [TOKEN], idleTimeoutMs: 2000 });
  const peers: BrowserPeer[] = [];
  try {
    const { publisher, res, answer } = await whip(srv.url);
    peers.push(publisher);
    const id = res.headers.get('x-stream-id')!;
    await publisher.acceptAnswer(answer);
    await publisher.connected();
    const frames = encodeFrames({ codec: 'h264', width: 320, height: 240, count: 20 });
    const sender = pump(publisher, frames);
    const v = await whep(srv.url, id);
    peers.push(v.viewer);
    assert.ok(await waitFor(() => v.viewer.received.length >= 3, 10_000));

    const events = readEvents(`${srv.url}/api/streams/${id}/events`, (e) => e.some((x) => x.event === 'offline'), 15_000);
    await new Promise((r) => setTimeout(r, 300));
    // The publisher goes silent without a goodbye (its network died).
    await sender.stop();
    const stoppedAt = Date.now();
    const got = await events;
    const offlineAfterMs = Date.now() - stoppedAt;
    t.diagnostic(`offline ${offlineAfterMs} ms after the publisher went silent (idle timeout 2000 ms)`);
    assert.deepEqual(JSON.parse(got[0]!.data), { state: 'live', viewers: 1 });
    assert.equal(got.at(-1)!.event, 'offline');
    assert.ok(offlineAfterMs < 5000);
    assert.equal((await fetch(`${srv.url}/api/streams/${id}`)).status, 404);
    const h = srv.app.health();
    // The viewer's peer connection went with the stream.
    assert.deepEqual([h.sessions, h.openCodecs, h.openModelSessions, h.openPeers], [0, 0, 0, 0]);
    assert.equal((await post(`${srv.url}/whep/${id}`, browserOffer({ video: [VP8], videoDirection: 'recvonly' }), { 'content-type': 'application/sdp' })).status, 404);
  } finally {
    for (const p of peers) await p.close();
    await srv.close();
  }
});

test('two streams of one model with BATCH_ACROSS_STREAMS=on share one session and both play', { timeout: 60_000 }, async () => {
  const srv = await startTestApp({ ingestTokens: [TOKEN], batchAcrossStreams: 'on' });
  const peers: BrowserPeer[] = [];
  const senders: { stop(): Promise<void> }[] = [];
  try {
    const frames = encodeFrames({ codec: 'h264', width: 320, height: 240, count: 30 });
    const viewers: BrowserPeer[] = [];
    const ends: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { publisher, res, answer } = await whip(srv.url);
      peers.push(publisher);
      assert.equal(res.status, 201, answer);
      await publisher.acceptAnswer(answer);
      await publisher.connected();
      senders.push(pump(publisher, frames));
      const v = await whep(srv.url, res.headers.get('x-stream-id')!);
      peers.push(v.viewer);
      viewers.push(v.viewer);
      ends.push(res.headers.get('location')!);
    }
    assert.ok(await waitFor(() => viewers.every((v) => v.received.length >= 10), 15_000), `viewers got ${viewers.map((v) => v.received.length).join(' / ')} frames`);
    // Two generator handles, one batched session behind them.
    assert.equal(srv.app.health().openModelSessions, 2);
    for (const end of ends) await fetch(`${srv.url}${end}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    const h = srv.app.health();
    assert.deepEqual([h.sessions, h.openModelSessions, h.openPeers], [0, 0, 0]);
  } finally {
    for (const s of senders) await s.stop();
    for (const p of peers) await p.close();
    await srv.close();
  }
});

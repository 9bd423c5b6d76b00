/**
 * The viewers of one stream (WHEP): each is a send-only peer connection fed by the stream's
 * fan-out. The set enforces the viewer limit, frees a viewer's peer when it leaves or vanishes,
 * and closes them all with the stream.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ClosedError, ViewerLimitError } from '../shared/errors.js';
import type { PeerSession, VideoCodecName } from '../webrtc/index.js';
import type { VideoFanout } from './fanout.js';

export type CreateViewerPeer = (offerSdp: string, codec: VideoCodecName) => Promise<PeerSession>;

export interface ViewerSetOptions {
  fanout: VideoFanout;
  maxViewers: number;
  createPeer: CreateViewerPeer;
  /** A viewer asked for a key frame (its PLI/FIR, or it just connected). */
  onKeyframeRequest: () => void;
  /** The number of viewers changed. */
  onChange: (viewers: number) => void;
  logger: Logger;
  /** Seconds a refused viewer is told to wait. Default 10. */
  retryAfterS?: number;
}

interface Viewer {
  id: string;
  peer: PeerSession;
  detach: (() => void)[];
}

export class ViewerSet {
  readonly #opts: ViewerSetOptions;
  readonly #viewers = new Map<string, Viewer>();
  #joining = 0;
  #closing: Promise<void> | null = null;
  #joined = 0;

  constructor(opts: ViewerSetOptions) {
    this.#opts = opts;
  }

  get size(): number {
    return this.#viewers.size;
  }

  /** Viewers that ever joined. */
  get joined(): number {
    return this.#joined;
  }

  /** Throws ViewerLimitError, ClosedError, or the offer's SdpError/NoVideoError/UnsupportedCodecError. */
  async add(offerSdp: string): Promise<{ viewerId: string; answerSdp: string }> {
    if (this.#closing) throw new ClosedError('the stream has ended');
    if (this.#viewers.size + this.#joining >= this.#opts.maxViewers) {
      throw new ViewerLimitError(`this stream has its ${this.#opts.maxViewers} viewer(s); try again later`, this.#opts.retryAfterS ?? 10);
    }
    this.#joining++;
    let peer: PeerSession;
    try {
      peer = await this.#opts.createPeer(offerSdp, this.#opts.fanout.codec);
    } finally {
      this.#joining--;
    }
    if (this.#closing) {
      await peer.close();
      throw new ClosedError('the stream has ended');
    }
    const id = randomUUID();
    const sink = { id, sendRtp: peer.sendRtp.bind(peer) };
    const viewer: Viewer = {
      id,
      peer,
      detach: [
        this.#opts.fanout.add(sink),
        peer.onKeyframeRequest(() => this.#opts.onKeyframeRequest()),
        peer.onClosed((reason) => {
          this.#opts.logger.info({ viewer: id, reason }, 'viewer left');
          void this.remove(id);
        }),
      ],
    };
    this.#viewers.set(id, viewer);
    this.#joined++;
    this.#opts.logger.info({ viewer: id, viewers: this.#viewers.size }, 'viewer joined');
    this.#opts.onChange(this.#viewers.size);
    // The caller sends the answer right away; the viewer's silence counts from here.
    peer.startIdleTimer();
    return { viewerId: id, answerSdp: peer.answerSdp };
  }

  has(viewerId: string): boolean {
    return this.#viewers.has(viewerId);
  }

  /** True when the viewer was there. */
  async remove(viewerId: string): Promise<boolean> {
    const viewer = this.#viewers.get(viewerId);
    if (!viewer) return false;
    this.#viewers.delete(viewerId);
    for (const d of viewer.detach) d();
    if (!this.#closing) this.#opts.onChange(this.#viewers.size);
    await viewer.peer.close();
    return true;
  }

  stats(): { id: string; connectionState: string; framesOut: number; keyframesOut: number; plisReceived: number }[] {
    return [...this.#viewers.values()].map((v) => {
      const s = v.peer.stats();
      return { id: v.id, connectionState: s.connectionState, framesOut: s.framesOut, keyframesOut: s.keyframesOut, plisReceived: s.plisReceived };
    });
  }

  close(): Promise<void> {
    if (!this.#closing) {
      // Set before the removals start, so they report no viewer-count changes on the way out.
      let done!: () => void;
      this.#closing = new Promise<void>((resolve) => (done = resolve));
      void Promise.allSettled([...this.#viewers.keys()].map((id) => this.remove(id))).then(() => done());
    }
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

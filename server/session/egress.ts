/**
 * The output side of a live session: one encoder (made at the first frame's size), one fan-out
 * that packetizes each encoded frame once for the publisher's return path and every viewer, and
 * the viewers themselves. Key-frame requests from all of them go to the session's KeyframePolicy.
 */
import type { Logger } from 'pino';
import type { Frame, VideoEncoder } from '../codec/index.js';
import type { VideoCodecName } from '../contract/index.js';
import { CodecError, asCycleStreamError } from '../shared/errors.js';
import { VideoFanout, ViewerSet, type CreateViewerPeer } from '../streams/index.js';
import type { PeerSession } from '../webrtc/index.js';
import type { LiveCodecs, ResourceCounters } from './decode-stage.js';
import type { KeyframePolicy } from './keyframes.js';
import type { LiveStats } from './live-stats.js';

export interface LiveEgressOptions {
  /** The publisher: our video goes back to it when it offered sendrecv. */
  publisher: PeerSession;
  /** Codec of the output when the publisher takes none back (WHIP); else the publisher's. */
  outputCodec: VideoCodecName;
  outputBitrateKbps: number;
  createEncoder: LiveCodecs['createEncoder'];
  counters: ResourceCounters;
  keyframes: KeyframePolicy;
  stats: LiveStats;
  maxViewers: number;
  createViewerPeer: CreateViewerPeer;
  onViewersChange: (viewers: number) => void;
  logger: Logger;
}

export interface EgressCounters {
  /** Frames encoded once and forwarded to every receiver. */
  framesEncoded: number;
  viewers: number;
  /** Size of the encoded output; 0 before the first frame. */
  width: number;
  height: number;
}

export class LiveEgress {
  readonly #opts: LiveEgressOptions;
  readonly #fanout: VideoFanout;
  readonly #viewers: ViewerSet;
  readonly #t0 = Date.now();
  #encoder: VideoEncoder | null = null;
  #lastPtsMs = -1;
  #framesEncoded = 0;
  #outputSize = { width: 0, height: 0 };

  constructor(opts: LiveEgressOptions) {
    this.#opts = opts;
    const { publisher, keyframes } = opts;
    this.#fanout = new VideoFanout({
      codec: publisher.sendsVideo ? publisher.codec : opts.outputCodec,
      onKeyframeNeeded: (reason) => keyframes.forceOutput(reason),
    });
    if (publisher.sendsVideo) this.#fanout.add({ id: 'publisher', sendRtp: (packets, key) => publisher.sendRtp(packets, key) });
    this.#viewers = new ViewerSet({
      fanout: this.#fanout,
      maxViewers: opts.maxViewers,
      createPeer: opts.createViewerPeer,
      onKeyframeRequest: () => keyframes.forceOutput('viewer'),
      onChange: opts.onViewersChange,
      logger: opts.logger,
    });
  }

  get codec(): VideoCodecName {
    return this.#fanout.codec;
  }

  /** Receivers of the output: the publisher (when it takes video back) and the viewers. */
  get receivers(): number {
    return this.#fanout.size;
  }

  get viewers(): ViewerSet {
    return this.#viewers;
  }

  counters(): EgressCounters {
    return { framesEncoded: this.#framesEncoded, viewers: this.#viewers.size, width: this.#outputSize.width, height: this.#outputSize.height };
  }

  /** Encodes one translated frame, once, and forwards it to every receiver. */
  async send(yuv: Frame, receivedAtMs: number): Promise<void> {
    if (!this.#encoder) {
      this.#encoder = this.#opts.createEncoder({
        codec: this.codec,
        width: yuv.width,
        height: yuv.height,
        fps: 30,
        bitrateKbps: this.#opts.outputBitrateKbps,
      });
      this.#opts.counters.codecs++;
    }
    const keyframe = this.#opts.keyframes.takeOutput();
    const ptsMs = Math.max(this.#lastPtsMs + 1, Date.now() - this.#t0);
    this.#lastPtsMs = ptsMs;
    const packets = await this.#encoder.encode(yuv, { keyframe, ptsMs });
    try {
      for (const p of packets) this.#fanout.write({ data: p.data, keyframe: p.keyframe, ptsMs: p.ptsMs });
    } catch (err) {
      throw Object.assign(asCycleStreamError(err, CodecError), { stage: 'send' as const });
    }
    this.#framesEncoded += packets.length;
    this.#outputSize = { width: yuv.width, height: yuv.height };
    this.#opts.stats.frameOut(receivedAtMs);
  }

  /** Waits for frames already handed to the fan-out. */
  flush(): Promise<void> {
    return this.#fanout.flush();
  }

  /** Closes the viewers and the encoder; the publisher's peer belongs to the session. Throws the first error. */
  async close(): Promise<void> {
    const errors: unknown[] = [];
    await this.#viewers.close().catch((err: unknown) => errors.push(err));
    if (this.#encoder) {
      const encoder = this.#encoder;
      this.#encoder = null;
      await encoder.close().catch((err: unknown) => errors.push(err));
      this.#opts.counters.codecs--;
    }
    if (errors.length) throw errors[0];
  }
}

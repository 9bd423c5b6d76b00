/**
 * The receive side of a peer connection: RTP from the browser's track into a ReceivePipeline
 * (one per SSRC), complete frames out, and the one place that sends PLIs back to the browser.
 */
import type { RTCRtpReceiver, RtpPacket } from 'werift';
import { RateLimiter } from './rate-limiter.js';
import { ReceivePipeline, type EncodedVideoFrame, type NeedKeyframeReason } from './receive-pipeline.js';
import type { VideoCodecName } from './rtp-util.js';
import type { PeerSessionLogger } from './peer-session.js';

/** Why we ask the browser for a key frame (server side). */
export type KeyframeRequestReason = NeedKeyframeReason | 'stream-start' | 'decode-error' | 'backpressure' | 'manual';

export interface PeerIngressOptions {
  codec: VideoCodecName;
  payloadType: number;
  jitterLatencyMs: number | undefined;
  freezeOnLoss: boolean;
  /** Minimum spacing of our PLIs. */
  keyframeMinIntervalMs: number;
  onFrame: (frame: EncodedVideoFrame) => void;
  log: PeerSessionLogger;
}

export interface PeerIngressStats {
  remoteSsrc: number | undefined;
  packetsIn: number;
  bytesIn: number;
  paddingDropped: number;
  packetsLost: number;
  framesIn: number;
  keyframesIn: number;
  framesDropped: number;
  plisSent: number;
  plisSuppressed: number;
}

type PipelineTotals = Pick<PeerIngressStats, 'packetsIn' | 'paddingDropped' | 'packetsLost' | 'framesIn' | 'keyframesIn' | 'framesDropped'>;

export class PeerIngress {
  /** Set once the browser's video transceiver exists; PLIs go out through it. */
  receiver: RTCRtpReceiver | undefined;
  #pipeline: ReceivePipeline | undefined;
  #remoteSsrc: number | undefined;
  #closed = false;
  readonly #pliLimiter: RateLimiter;
  readonly #counters = { bytesIn: 0, plisSent: 0, plisSuppressed: 0 };
  /** Stats of pipelines replaced after an SSRC change, so totals survive. */
  readonly #retired: PipelineTotals = { packetsIn: 0, paddingDropped: 0, packetsLost: 0, framesIn: 0, keyframesIn: 0, framesDropped: 0 };

  constructor(private readonly opts: PeerIngressOptions) {
    this.#pliLimiter = new RateLimiter(opts.keyframeMinIntervalMs);
  }

  input(rtp: RtpPacket): void {
    if (this.#closed) return;
    this.#counters.bytesIn += rtp.payload?.length ?? 0;
    const ssrc = rtp.header.ssrc;
    if (!this.#pipeline || ssrc !== this.#remoteSsrc) {
      // A new SSRC means a new sequence space (the browser restarted its sender): start over.
      this.#retire();
      this.#remoteSsrc = ssrc;
      this.#pipeline = new ReceivePipeline({
        codec: this.opts.codec,
        payloadType: this.opts.payloadType,
        jitterLatencyMs: this.opts.jitterLatencyMs,
        freezeOnLoss: this.opts.freezeOnLoss,
        onFrame: this.opts.onFrame,
        onNeedKeyframe: (reason) => {
          this.requestKeyframe(reason);
        },
      });
      this.requestKeyframe('stream-start');
    }
    this.#pipeline.input(rtp);
  }

  /** Sends a PLI to the browser, rate-limited. True when one went out. */
  requestKeyframe(reason: KeyframeRequestReason): boolean {
    const receiver = this.receiver;
    const ssrc = this.#remoteSsrc;
    if (this.#closed || !receiver || ssrc === undefined) return false;
    if (!this.#pliLimiter.tryAcquire()) {
      this.#counters.plisSuppressed += 1;
      return false;
    }
    this.#counters.plisSent += 1;
    this.opts.log.debug({ reason, ssrc }, 'sending PLI');
    receiver.sendRtcpPLI(ssrc).catch((err: unknown) => this.opts.log.warn({ err }, 'sending PLI failed'));
    return true;
  }

  stats(): PeerIngressStats {
    const p = this.#pipeline?.stats();
    const r = this.#retired;
    return {
      remoteSsrc: this.#remoteSsrc,
      packetsIn: r.packetsIn + (p?.packetsIn ?? 0),
      bytesIn: this.#counters.bytesIn,
      paddingDropped: r.paddingDropped + (p?.paddingDropped ?? 0),
      packetsLost: r.packetsLost + (p?.packetsLost ?? 0),
      framesIn: r.framesIn + (p?.framesIn ?? 0),
      keyframesIn: r.keyframesIn + (p?.keyframesIn ?? 0),
      framesDropped: r.framesDropped + (p?.framesDropped ?? 0),
      plisSent: this.#counters.plisSent,
      plisSuppressed: this.#counters.plisSuppressed,
    };
  }

  /** Idempotent: no more frames or PLIs. */
  close(): void {
    this.#closed = true;
    this.#retire();
  }

  #retire(): void {
    if (!this.#pipeline) return;
    const s = this.#pipeline.stats();
    for (const key of Object.keys(this.#retired) as (keyof PipelineTotals)[]) this.#retired[key] += s[key];
    this.#pipeline.destroy();
    this.#pipeline = undefined;
  }
}

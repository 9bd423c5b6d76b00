import type { RtpPacket } from 'werift';
import {
  DepacketizeCallback,
  JitterBufferCallback,
  RtpSourceCallback,
  type DepacketizerOutput,
  type JitterBufferOutput,
} from 'werift/nonstandard';
import { isH264Keyframe } from './h264-packetizer.js';
import { PaddingFilter } from './padding-filter.js';
import { VIDEO_CLOCK_RATE, weriftDepacketizerCodec, type VideoCodecName } from './rtp-util.js';
import { isVp8Keyframe } from './vp8-packetizer.js';

export interface EncodedVideoFrame {
  codec: VideoCodecName;
  /** One complete encoded frame: a VP8 frame, or an H.264 access unit in Annex-B (4-byte start codes). */
  data: Buffer;
  keyframe: boolean;
  /** 90 kHz RTP timestamp of the frame (the sender's clock, random origin). */
  rtpTimestamp: number;
  /** Date.now() when the frame's last packet left the jitter buffer. */
  receivedAtMs: number;
}

export type NeedKeyframeReason = 'waiting-for-keyframe' | 'packet-loss';

export interface ReceivePipelineOptions {
  codec: VideoCodecName;
  /** Only packets with this payload type are used. */
  payloadType?: number;
  /** How long the jitter buffer waits for a missing packet (NACK retransmission) before giving up. */
  jitterLatencyMs?: number;
  /**
   * After loss, drop delta frames until the next key frame (and keep asking for one): frames that
   * reference a lost one decode to smeared garbage that persists until the next key frame.
   */
  freezeOnLoss?: boolean;
  onFrame: (frame: EncodedVideoFrame) => void;
  onNeedKeyframe: (reason: NeedKeyframeReason) => void;
  now?: () => number;
}

export interface ReceivePipelineStats {
  packetsIn: number;
  paddingDropped: number;
  packetsLost: number;
  lossEvents: number;
  framesIn: number;
  keyframesIn: number;
  /** Complete frames dropped while waiting for a key frame. */
  framesDropped: number;
}

export const DEFAULT_JITTER_LATENCY_MS = 100;

/**
 * werift's receive chain with our two fixes in it:
 * RtpSourceCallback -> JitterBufferCallback -> PaddingFilter (drop + renumber) -> DepacketizeCallback
 * -> key-frame gate -> onFrame.
 *
 * werift's own `waitForKeyframe: true` is not used: in 0.24.4 it returns early without clearing
 * its packet buffer, so every delta frame before the first key frame piles up and is emitted glued
 * to the front of that key frame (a corrupt "key frame"). The gate here does the same job after
 * depacketizing, and also covers the frames after a loss.
 *
 * The depacketizer calls rtp.clear() on packets it has used: nothing here keeps packet references.
 */
export class ReceivePipeline {
  readonly codec: VideoCodecName;
  private readonly source: RtpSourceCallback;
  private readonly jitter: JitterBufferCallback;
  private readonly depacketizer: DepacketizeCallback;
  private readonly padding = new PaddingFilter<RtpPacket>();
  private readonly freezeOnLoss: boolean;
  private readonly onFrame: (frame: EncodedVideoFrame) => void;
  private readonly onNeedKeyframe: (reason: NeedKeyframeReason) => void;
  private readonly now: () => number;
  private waitingForKeyframe = true;
  private destroyed = false;
  private readonly counters = { packetsIn: 0, framesIn: 0, keyframesIn: 0, framesDropped: 0 };

  constructor(options: ReceivePipelineOptions) {
    this.codec = options.codec;
    this.freezeOnLoss = options.freezeOnLoss ?? true;
    this.onFrame = options.onFrame;
    this.onNeedKeyframe = options.onNeedKeyframe;
    this.now = options.now ?? Date.now;
    this.source = new RtpSourceCallback({ payloadType: options.payloadType, clearInvalidPTPacket: true });
    this.jitter = new JitterBufferCallback(VIDEO_CLOCK_RATE, {
      latency: options.jitterLatencyMs ?? DEFAULT_JITTER_LATENCY_MS,
    });
    this.depacketizer = new DepacketizeCallback(weriftDepacketizerCodec(options.codec), {
      isFinalPacketInSequence: (header) => header.marker,
      waitForKeyframe: false,
    });
    this.source.pipe((output) => this.jitter.input(output));
    this.jitter.pipe((output) => this.afterJitter(output));
    this.depacketizer.pipe((output) => this.afterDepacketizer(output));
  }

  input(packet: RtpPacket): void {
    if (this.destroyed) return;
    this.counters.packetsIn += 1;
    this.source.input(packet);
  }

  stats(): ReceivePipelineStats {
    return { ...this.counters, ...this.padding.stats() };
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.source.destroy();
    this.jitter.destroy();
    this.depacketizer.destroy();
  }

  private afterJitter(output: JitterBufferOutput): void {
    if (!output.rtp) return;
    const { packet, lost } = this.padding.process(output.rtp);
    if (lost > 0) {
      if (this.freezeOnLoss) this.waitingForKeyframe = true;
      this.onNeedKeyframe('packet-loss');
    }
    if (packet) this.depacketizer.input({ rtp: packet });
  }

  private afterDepacketizer(output: DepacketizerOutput): void {
    const frame = output.frame;
    if (!frame || this.destroyed) return;
    const data = frame.data;
    // werift's H.264 isKeyframe also reads the FU header bits of non-FU packets, so a P slice can
    // pass for a key frame; look at the bitstream instead.
    const keyframe = this.codec === 'vp8' ? isVp8Keyframe(data) : isH264Keyframe(data);
    if (this.waitingForKeyframe && !keyframe) {
      this.counters.framesDropped += 1;
      this.onNeedKeyframe('waiting-for-keyframe');
      return;
    }
    this.waitingForKeyframe = false;
    this.counters.framesIn += 1;
    if (keyframe) this.counters.keyframesIn += 1;
    this.onFrame({
      codec: this.codec,
      data,
      keyframe,
      rtpTimestamp: Number(frame['timestamp'] ?? 0) >>> 0,
      receivedAtMs: this.now(),
    });
  }
}

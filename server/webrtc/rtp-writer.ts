import { RtpHeader, RtpPacket } from 'werift';
import { H264Packetizer } from './h264-packetizer.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  VIDEO_CLOCK_RATE,
  randomUint16,
  randomUint32,
  uint16Add,
  uint32Add,
  type VideoCodecName,
} from './rtp-util.js';
import { Vp8Packetizer } from './vp8-packetizer.js';

export interface RtpVideoWriterOptions {
  codec: VideoCodecName;
  /** werift's sender overwrites it with the negotiated one; set it for standalone use. */
  payloadType?: number;
  ssrc?: number;
  maxPayloadBytes?: number;
  initialSequenceNumber?: number;
  initialTimestamp?: number;
}

export interface WritableVideoFrame {
  data: Uint8Array;
  /** Presentation time in milliseconds; mapped to the 90 kHz RTP clock. */
  ptsMs: number;
}

/**
 * Turns encoded frames into RTP packets: our own sequence numbers (werift's sender keeps them)
 * and 90 kHz timestamps from ptsMs, marker bit on the last packet of each frame.
 * Timestamps are forced to rise from frame to frame: two frames with one timestamp would be
 * merged into one by receivers.
 */
export class RtpVideoWriter {
  readonly codec: VideoCodecName;
  private readonly payloadType: number;
  private readonly ssrc: number;
  private readonly packetizer: Vp8Packetizer | H264Packetizer;
  private nextSequenceNumber: number;
  private readonly timestampBase: number;
  private lastTicks: number | undefined;
  private firstPtsMs: number | undefined;

  constructor(options: RtpVideoWriterOptions) {
    this.codec = options.codec;
    this.payloadType = options.payloadType ?? 96;
    this.ssrc = options.ssrc ?? 0;
    const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.packetizer =
      options.codec === 'vp8' ? new Vp8Packetizer({ maxPayloadBytes }) : new H264Packetizer({ maxPayloadBytes });
    this.nextSequenceNumber = (options.initialSequenceNumber ?? randomUint16()) & 0xffff;
    this.timestampBase = (options.initialTimestamp ?? randomUint32()) >>> 0;
  }

  /** Sequence number the next packet will carry. */
  get sequenceNumber(): number {
    return this.nextSequenceNumber;
  }

  write(frame: WritableVideoFrame): RtpPacket[] {
    const payloads = this.packetizer.packetize(frame.data);
    const timestamp = this.timestampFor(frame.ptsMs);
    return payloads.map((payload, i) => {
      const header = new RtpHeader({
        payloadType: this.payloadType,
        ssrc: this.ssrc,
        sequenceNumber: this.nextSequenceNumber,
        timestamp,
        marker: i === payloads.length - 1,
      });
      this.nextSequenceNumber = uint16Add(this.nextSequenceNumber, 1);
      return new RtpPacket(header, payload);
    });
  }

  private timestampFor(ptsMs: number): number {
    // Relative to the first frame so large epoch-based pts values keep their precision.
    this.firstPtsMs ??= ptsMs;
    let ticks = Math.round(((ptsMs - this.firstPtsMs) * VIDEO_CLOCK_RATE) / 1000);
    if (this.lastTicks !== undefined && ticks <= this.lastTicks) ticks = this.lastTicks + 1;
    this.lastTicks = ticks;
    return uint32Add(this.timestampBase, ticks);
  }
}

import { CodecError, ConfigError } from '../shared/errors.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from './rtp-util.js';

export interface Vp8PacketizerOptions {
  /** Largest RTP payload (descriptor included). */
  maxPayloadBytes?: number;
  /**
   * Carry a 15-bit PictureID (X=1, I=1, M=1), as Chromium does. Its receiver uses it to see
   * which frames are missing after loss; without it, it falls back to sequence-number guessing.
   */
  pictureId?: boolean;
  /** First PictureID (0..32767); random by default. */
  initialPictureId?: number;
}

/**
 * RFC 7741 packetizer: one call per encoded frame, returns the RTP payloads in order.
 * The first payload has S=1 and PID=0 (we never split by partition), so the VP8 payload
 * header of the frame follows its descriptor, which is what depacketizers look at.
 * The caller sets the marker bit on the last payload's packet.
 */
export class Vp8Packetizer {
  readonly maxPayloadBytes: number;
  readonly withPictureId: boolean;
  private nextPictureId: number;

  constructor(options: Vp8PacketizerOptions = {}) {
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.withPictureId = options.pictureId ?? true;
    this.nextPictureId = (options.initialPictureId ?? Math.floor(Math.random() * 0x8000)) & 0x7fff;
    if (!Number.isInteger(this.maxPayloadBytes) || this.maxPayloadBytes < this.descriptorSize + 1) {
      throw new ConfigError('maxPayloadBytes', `must be an integer >= ${this.descriptorSize + 1}`);
    }
  }

  private get descriptorSize(): number {
    return this.withPictureId ? 4 : 1;
  }

  packetize(frame: Uint8Array): Buffer[] {
    if (frame.length === 0) throw new CodecError('cannot packetize an empty VP8 frame');
    const pictureId = this.nextPictureId;
    this.nextPictureId = (this.nextPictureId + 1) & 0x7fff;

    const room = this.maxPayloadBytes - this.descriptorSize;
    const count = Math.ceil(frame.length / room);
    // Even sizes rather than full packets plus a runt: same packet count, smoother pacing.
    const chunk = Math.ceil(frame.length / count);
    const payloads: Buffer[] = [];
    for (let i = 0, offset = 0; i < count; i++, offset += chunk) {
      const part = frame.subarray(offset, Math.min(offset + chunk, frame.length));
      const payload = Buffer.allocUnsafe(this.descriptorSize + part.length);
      const start = i === 0 ? 0x10 : 0x00;
      if (this.withPictureId) {
        payload[0] = 0x80 | start;
        payload[1] = 0x80;
        payload.writeUInt16BE(0x8000 | pictureId, 2);
      } else {
        payload[0] = start;
      }
      payload.set(part, this.descriptorSize);
      payloads.push(payload);
    }
    return payloads;
  }
}

/** Key frames have the inverse key-frame flag (bit 0 of the frame tag) cleared (RFC 6386 §9.1). */
export function isVp8Keyframe(frame: Uint8Array): boolean {
  return frame.length > 0 && (frame[0] & 0x01) === 0;
}

import { CodecError, ConfigError } from '../shared/errors.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from './rtp-util.js';

const NAL_TYPE_IDR = 5;
const NAL_TYPE_STAP_A = 24;
const NAL_TYPE_FU_A = 28;

export interface H264PacketizerOptions {
  /** Largest RTP payload. */
  maxPayloadBytes?: number;
  /** Pack runs of small NAL units (SPS, PPS, SEI) into STAP-A packets. */
  aggregate?: boolean;
}

/**
 * Splits an Annex-B byte stream into NAL units (without start codes). Accepts 3- and 4-byte
 * start codes; zero bytes before a start code (the 4-byte form, trailing_zero_8bits) are not
 * part of the NAL unit, since a NAL unit always ends with its non-zero stop bit byte.
 */
export function splitAnnexB(data: Uint8Array): Buffer[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const starts: number[] = [];
  for (let i = 0; i + 2 < buf.length; ) {
    if (buf[i + 2]! > 1) {
      i += 3;
    } else if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      starts.push(i + 3);
      i += 3;
    } else {
      i += 1;
    }
  }
  if (starts.length === 0 || !onlyZerosBefore(buf, starts[0]! - 3)) {
    throw new CodecError('H.264 access unit is not an Annex-B byte stream (no leading start code)');
  }
  const nals: Buffer[] = [];
  for (let k = 0; k < starts.length; k++) {
    const begin = starts[k]!;
    let end = k + 1 < starts.length ? starts[k + 1]! - 3 : buf.length;
    while (end > begin && buf[end - 1] === 0) end--;
    if (end > begin) nals.push(buf.subarray(begin, end));
  }
  return nals;
}

function onlyZerosBefore(buf: Buffer, end: number): boolean {
  for (let i = 0; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

export function nalUnitType(nal: Uint8Array): number {
  return nal[0]! & 0x1f;
}

/** True when the access unit holds an IDR slice. */
export function isH264Keyframe(accessUnit: Uint8Array): boolean {
  try {
    return splitAnnexB(accessUnit).some((nal) => nalUnitType(nal) === NAL_TYPE_IDR);
  } catch {
    return false;
  }
}

/**
 * RFC 6184 packetizer for packetization-mode=1: single NAL unit packets when a NAL unit fits,
 * FU-A fragments when it does not, and optionally STAP-A for runs of small NAL units.
 * One call per access unit (Annex-B); the caller sets the marker bit on the last payload's packet.
 */
export class H264Packetizer {
  readonly maxPayloadBytes: number;
  readonly aggregate: boolean;

  constructor(options: H264PacketizerOptions = {}) {
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.aggregate = options.aggregate ?? true;
    if (!Number.isInteger(this.maxPayloadBytes) || this.maxPayloadBytes < 3) {
      throw new ConfigError('maxPayloadBytes', 'must be an integer >= 3');
    }
  }

  packetize(accessUnit: Uint8Array): Buffer[] {
    const nals = splitAnnexB(accessUnit);
    if (nals.length === 0) throw new CodecError('H.264 access unit holds no NAL units');
    const payloads: Buffer[] = [];
    for (let i = 0; i < nals.length; ) {
      if (this.aggregate) {
        const group = this.stapGroup(nals, i);
        if (group > 1) {
          payloads.push(stapA(nals.slice(i, i + group)));
          i += group;
          continue;
        }
      }
      const nal = nals[i]!;
      if (nal.length <= this.maxPayloadBytes) {
        payloads.push(Buffer.from(nal));
      } else {
        payloads.push(...this.fuA(nal));
      }
      i += 1;
    }
    return payloads;
  }

  /** How many NAL units from `from` fit in one STAP-A (1 header byte + 2 size bytes each). */
  private stapGroup(nals: Buffer[], from: number): number {
    let size = 1;
    let count = 0;
    for (let i = from; i < nals.length; i++) {
      const next = size + 2 + nals[i]!.length;
      if (next > this.maxPayloadBytes || nals[i]!.length > 0xffff) break;
      size = next;
      count++;
    }
    return count;
  }

  private fuA(nal: Buffer): Buffer[] {
    const header = nal[0]!;
    const indicator = (header & 0xe0) | NAL_TYPE_FU_A;
    const type = header & 0x1f;
    const body = nal.subarray(1);
    const room = this.maxPayloadBytes - 2;
    const count = Math.ceil(body.length / room);
    const chunk = Math.ceil(body.length / count);
    const payloads: Buffer[] = [];
    for (let i = 0, offset = 0; i < count; i++, offset += chunk) {
      const part = body.subarray(offset, Math.min(offset + chunk, body.length));
      const payload = Buffer.allocUnsafe(2 + part.length);
      payload[0] = indicator;
      payload[1] = (i === 0 ? 0x80 : 0) | (i === count - 1 ? 0x40 : 0) | type;
      payload.set(part, 2);
      payloads.push(payload);
    }
    return payloads;
  }
}

function stapA(nals: Buffer[]): Buffer {
  let forbidden = 0;
  let nri = 0;
  let size = 1;
  for (const nal of nals) {
    forbidden |= nal[0]! & 0x80;
    nri = Math.max(nri, nal[0]! & 0x60);
    size += 2 + nal.length;
  }
  const payload = Buffer.allocUnsafe(size);
  payload[0] = forbidden | nri | NAL_TYPE_STAP_A;
  let offset = 1;
  for (const nal of nals) {
    payload.writeUInt16BE(nal.length, offset);
    payload.set(nal, offset + 2);
    offset += 2 + nal.length;
  }
  return payload;
}

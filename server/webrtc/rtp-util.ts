import { randomInt } from 'node:crypto';

import type { VideoCodecName } from '../contract/index.js';

export type { VideoCodecName };

/** RTP video clock (RFC 7741, RFC 6184). */
export const VIDEO_CLOCK_RATE = 90000;

/**
 * Payload budget per RTP packet. ~1200 bytes on the wire is what browsers use; this leaves room
 * for the RTP header, werift's header extensions (mid, transport-cc, abs-send-time), the SRTP tag
 * and a TURN ChannelData header, so packets stay under the 1280-byte IPv6 minimum MTU.
 */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1160;

export function uint16Add(a: number, b: number): number {
  return (a + b) & 0xffff;
}

export function uint32Add(a: number, b: number): number {
  return (a + b) >>> 0;
}

/** Random start values, as RFC 3550 asks for sequence numbers and timestamps. */
export function randomUint16(): number {
  return randomInt(0, 0x10000);
}

export function randomUint32(): number {
  return randomInt(0, 0x1_0000_0000 - 1);
}

/** werift's depacketizer names for our two codecs. */
export function weriftDepacketizerCodec(codec: VideoCodecName): 'VP8' | 'MPEG4/ISO/AVC' {
  return codec === 'vp8' ? 'VP8' : 'MPEG4/ISO/AVC';
}

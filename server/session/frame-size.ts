/**
 * Live input size, checked before decoding: a VP8 key frame and an H.264 SPS announce the picture
 * size, so a stream over MAX_INPUT_WIDTH_PX x MAX_INPUT_HEIGHT_PX (either orientation, like a
 * phone held upright) is dropped at its header, and the frames that depend on it with it.
 */
import { h264SpsSize, vp8KeyframeSize, type CodedSize } from '../codec/index.js';
import { splitAnnexB, type EncodedVideoFrame } from '../webrtc/index.js';
import { CodecError } from '../shared/errors.js';

const NAL_TYPE_SPS = 7;

export interface InputSizeLimits {
  maxWidthPx: number;
  maxHeightPx: number;
}

/**
 * The size a frame announces: a VP8 key frame's, or the largest SPS in an H.264 access unit.
 * Null when the frame announces none (a VP8 inter frame, an access unit without an SPS).
 * Throws CodecError when the header is malformed.
 */
export function announcedSize(frame: Pick<EncodedVideoFrame, 'codec' | 'data'>): CodedSize | null {
  if (frame.codec === 'vp8') return vp8KeyframeSize(frame.data);
  let largest: CodedSize | null = null;
  for (const nal of splitAnnexB(frame.data)) {
    if ((nal[0]! & 0x1f) !== NAL_TYPE_SPS) continue;
    const size = h264SpsSize(nal);
    if (!largest || size.codedWidth * size.codedHeight > largest.codedWidth * largest.codedHeight) largest = size;
  }
  return largest;
}

/** Within the limits either way round; the decoder's whole macroblocks may round each side up to 16. */
export function fitsInputLimits(size: CodedSize, limits: InputSizeLimits): boolean {
  const fits = (maxW: number, maxH: number) =>
    size.width <= maxW && size.height <= maxH && size.codedWidth <= roundUp16(maxW) && size.codedHeight <= roundUp16(maxH);
  return fits(limits.maxWidthPx, limits.maxHeightPx) || fits(limits.maxHeightPx, limits.maxWidthPx);
}

function roundUp16(v: number): number {
  return Math.ceil(v / 16) * 16;
}

export type GateVerdict =
  | { pass: true }
  | { pass: false; reason: 'too-large'; size: CodedSize }
  | { pass: false; reason: 'malformed'; error: CodecError }
  /** Depends on a refused frame: waiting for the next acceptable key frame (or SPS). */
  | { pass: false; reason: 'waiting' };

/** Decides per frame, before decoding, whether it may reach the decoder. */
export class FrameSizeGate {
  #blocked = false;

  constructor(private readonly limits: InputSizeLimits) {}

  admit(frame: Pick<EncodedVideoFrame, 'codec' | 'data'>): GateVerdict {
    let size: CodedSize | null;
    try {
      size = announcedSize(frame);
    } catch (err) {
      this.#blocked = true;
      return { pass: false, reason: 'malformed', error: err instanceof CodecError ? err : new CodecError(String(err)) };
    }
    if (size === null) return this.#blocked ? { pass: false, reason: 'waiting' } : { pass: true };
    if (!fitsInputLimits(size, this.limits)) {
      this.#blocked = true;
      return { pass: false, reason: 'too-large', size };
    }
    this.#blocked = false;
    return { pass: true };
  }
}

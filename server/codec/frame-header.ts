/**
 * The picture size a VP8 key frame or an H.264 SPS announces, read from the headers alone, so a
 * frame too large to accept is refused before a decoder allocates for it (an 8192x8192 key frame
 * cost 235 MB to decode). Pure functions on bytes; malformed headers throw CodecError.
 */
import { CodecError } from '../shared/errors.js';

export interface CodedSize {
  /** The picture shown (after H.264 cropping). */
  width: number;
  height: number;
  /** What the decoder allocates: whole macroblocks for H.264, the header's size for VP8. */
  codedWidth: number;
  codedHeight: number;
}

/**
 * VP8 (RFC 6386 §9.1): a key frame starts with a 3-byte frame tag, the start code 9d 01 2a, then
 * 14-bit width and height (each with 2 scaling bits) little-endian. Null for an inter frame.
 */
export function vp8KeyframeSize(frame: Uint8Array): CodedSize | null {
  if (frame.length < 3) throw new CodecError('VP8 frame is shorter than its 3-byte frame tag');
  if ((frame[0]! & 0x01) !== 0) return null;
  if (frame.length < 10) throw new CodecError('VP8 key frame is shorter than its 10-byte header');
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) throw new CodecError('VP8 key frame has no start code');
  const width = (frame[6]! | (frame[7]! << 8)) & 0x3fff;
  const height = (frame[8]! | (frame[9]! << 8)) & 0x3fff;
  if (width === 0 || height === 0) throw new CodecError(`VP8 key frame announces ${width}x${height}`);
  return { width, height, codedWidth: width, codedHeight: height };
}

/** Bits of an H.264 RBSP: emulation-prevention bytes (00 00 03) are skipped as they are read. */
export class ExpGolombReader {
  #byte = 0;
  #bit = 0;
  #zeros = 0;
  readonly #data: Uint8Array;

  constructor(data: Uint8Array, startByte = 0) {
    this.#data = data;
    this.#byte = startByte;
  }

  bit(): number {
    if (this.#bit === 0) {
      if (this.#zeros >= 2 && this.#data[this.#byte] === 3) {
        this.#byte++;
        this.#zeros = 0;
      }
      if (this.#byte >= this.#data.length) throw new CodecError('H.264 header ends early');
      this.#zeros = this.#data[this.#byte] === 0 ? this.#zeros + 1 : 0;
    }
    const value = (this.#data[this.#byte]! >> (7 - this.#bit)) & 1;
    if (++this.#bit === 8) {
      this.#bit = 0;
      this.#byte++;
    }
    return value;
  }

  /** u(n), n <= 32. */
  bits(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) value = value * 2 + this.bit();
    return value;
  }

  /** ue(v): unsigned Exp-Golomb; more than 31 leading zeros is not a valid code. */
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw new CodecError('H.264 header has an Exp-Golomb code over 32 bits');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }

  /** se(v): signed Exp-Golomb. */
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Profiles whose SPS carries chroma format, bit depths and scaling matrices (H.264 7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function skipScalingList(r: ExpGolombReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** The picture size in an SPS NAL unit (its one-byte NAL header included). */
export function h264SpsSize(nal: Uint8Array): CodedSize {
  if (nal.length < 4 || (nal[0]! & 0x1f) !== 7) throw new CodecError('not an H.264 SPS NAL unit');
  const r = new ExpGolombReader(nal, 1);
  const profile = r.bits(8);
  r.bits(16); // constraint flags, level_idc
  r.ue(); // seq_parameter_set_id
  let chromaFormat = 1;
  let separateColourPlanes = false;
  if (HIGH_PROFILES.has(profile)) {
    chromaFormat = r.ue();
    if (chromaFormat > 3) throw new CodecError(`H.264 SPS has chroma_format_idc ${chromaFormat}`);
    if (chromaFormat === 3) separateColourPlanes = r.bit() === 1;
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.bit(); // qpprime_y_zero_transform_bypass_flag
    if (r.bit() === 1) {
      for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) if (r.bit() === 1) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.bit();
    r.se();
    r.se();
    const cycle = r.ue();
    if (cycle > 255) throw new CodecError(`H.264 SPS has ${cycle} reference frames in its POC cycle (at most 255)`);
    for (let i = 0; i < cycle; i++) r.se();
  } else if (pocType !== 2) throw new CodecError(`H.264 SPS has pic_order_cnt_type ${pocType}`);
  r.ue(); // max_num_ref_frames
  r.bit(); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bit();
  if (!frameMbsOnly) r.bit(); // mb_adaptive_frame_field_flag
  r.bit(); // direct_8x8_inference_flag
  const codedWidth = widthMbs * 16;
  const codedHeight = (2 - frameMbsOnly) * heightMapUnits * 16;
  let width = codedWidth;
  let height = codedHeight;
  if (r.bit() === 1) {
    const [left, right, top, bottom] = [r.ue(), r.ue(), r.ue(), r.ue()];
    const chromaArrayType = separateColourPlanes ? 0 : chromaFormat;
    const cropX = chromaArrayType === 0 ? 1 : chromaFormat === 3 ? 1 : 2;
    const cropY = (chromaArrayType === 0 ? 1 : chromaFormat === 1 ? 2 : 1) * (2 - frameMbsOnly);
    width -= cropX * (left + right);
    height -= cropY * (top + bottom);
    if (width <= 0 || height <= 0) throw new CodecError(`H.264 SPS crops ${codedWidth}x${codedHeight} to nothing`);
  }
  return { width, height, codedWidth, codedHeight };
}

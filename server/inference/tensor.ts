/**
 * RGB24 <-> NCHW float conversions for generators. Both write into caller-owned
 * buffers so the per-frame path allocates nothing.
 */

/** 256-entry table mapping an 8-bit value to the model's input range [lo, hi]. */
export function inputLut(lo: number, hi: number): Float32Array {
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = lo + (v / 255) * (hi - lo);
  return lut;
}

/** Packed RGB (HWC) -> planar CHW floats via `lut`. `out` holds 3 * pixels values. */
export function rgbToNchw(rgb: Uint8Array, out: Float32Array, pixels: number, lut: Float32Array): void {
  const g0 = pixels;
  const b0 = 2 * pixels;
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    out[i] = lut[rgb[j]];
    out[g0 + i] = lut[rgb[j + 1]];
    out[b0 + i] = lut[rgb[j + 2]];
  }
}

/** Planar CHW floats in [lo, hi] -> packed RGB, rounded and clamped to 0..255. */
export function nchwToRgb(src: Float32Array, rgb: Uint8Array, pixels: number, lo: number, hi: number): void {
  const scale = 255 / (hi - lo);
  // +0.5 turns the truncation below into round-half-up.
  const offset = -lo * scale + 0.5;
  const g0 = pixels;
  const b0 = 2 * pixels;
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    rgb[j] = clampByte(src[i] * scale + offset);
    rgb[j + 1] = clampByte(src[g0 + i] * scale + offset);
    rgb[j + 2] = clampByte(src[b0 + i] * scale + offset);
  }
}

function clampByte(v: number): number {
  // NaN from a broken model lands on 0 rather than poisoning the frame.
  if (!(v > 0)) return 0;
  if (v >= 255) return 255;
  return v | 0;
}

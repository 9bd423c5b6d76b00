/**
 * RGB24 <-> NCHW float conversions for generators, in plain JavaScript so that the
 * inference worker (inference-worker.mjs) can load them without a TypeScript loader:
 * tsx's hooks do not reach worker threads on Node 20. Types: tensor-kernels.d.mts.
 * Both conversions write into caller-owned buffers so the per-frame path allocates nothing.
 */

/** 256-entry table mapping an 8-bit value to the model's input range [lo, hi]. */
export function inputLut(lo, hi) {
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = lo + (v / 255) * (hi - lo);
  return lut;
}

/** Packed RGB (HWC) -> planar CHW floats via `lut`. `out` holds 3 * pixels values. */
export function rgbToNchw(rgb, out, pixels, lut) {
  const g0 = pixels;
  const b0 = 2 * pixels;
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    out[i] = lut[rgb[j]];
    out[g0 + i] = lut[rgb[j + 1]];
    out[b0 + i] = lut[rgb[j + 2]];
  }
}

/** Planar CHW floats in [lo, hi] -> packed RGB, rounded and clamped to 0..255. */
export function nchwToRgb(src, rgb, pixels, lo, hi) {
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

function clampByte(v) {
  // NaN from a broken model lands on 0 rather than poisoning the frame.
  if (!(v > 0)) return 0;
  if (v >= 255) return 255;
  return v | 0;
}

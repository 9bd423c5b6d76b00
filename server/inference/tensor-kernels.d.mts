/** Types for tensor-kernels.mjs (plain JS so the inference worker can load it without tsx). */

/** 256-entry table mapping an 8-bit value to the model's input range [lo, hi]. */
export function inputLut(lo: number, hi: number): Float32Array;
/** Packed RGB (HWC) -> planar CHW floats via `lut`. `out` holds 3 * pixels values. */
export function rgbToNchw(rgb: Uint8Array, out: Float32Array, pixels: number, lut: Float32Array): void;
/** Planar CHW floats in [lo, hi] -> packed RGB, rounded and clamped to 0..255. */
export function nchwToRgb(src: Float32Array, rgb: Uint8Array, pixels: number, lo: number, hi: number): void;

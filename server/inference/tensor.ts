/**
 * RGB24 <-> NCHW float conversions for generators. Both write into caller-owned
 * buffers so the per-frame path allocates nothing. The code lives in plain JS
 * (tensor-kernels.mjs) because the inference worker runs it too, without tsx.
 */
export { inputLut, nchwToRgb, rgbToNchw } from './tensor-kernels.mjs';

import type { RgbImage } from '../../../server/shared/image.js';

/**
 * Smooth synthetic test picture: diagonal gradients plus three flat colour patches,
 * shifted by `t` pixels so consecutive frames differ (real motion for P-frames).
 */
export function syntheticRgb(width: number, height: number, t = 0): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const patch = Math.max(8, Math.floor(Math.min(width, height) / 5));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      let r = Math.round(((x + t) % width) * 255 / width);
      let g = Math.round((y * 255) / height);
      let b = Math.round(((x + y) * 255) / (width + height));
      const px = (x - t + width) % width;
      if (y >= patch && y < 2 * patch) {
        if (px >= patch && px < 2 * patch) [r, g, b] = [220, 30, 40];
        else if (px >= 3 * patch && px < 4 * patch) [r, g, b] = [30, 200, 60];
      }
      if (y >= 3 * patch && y < 4 * patch && px >= 2 * patch && px < 3 * patch) [r, g, b] = [40, 60, 210];
      data[i] = r;
      data[i + 1] = g;
      data[i + 2] = b;
    }
  }
  return { width, height, data };
}

export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

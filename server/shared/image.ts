/**
 * Packed 8-bit RGB image (RGB24, row stride = width * 3). The common currency between
 * codec (YUV<->RGB), inference and temporal stages. Buffers are owned by whoever
 * created them and may be reused for the next frame, so copy before keeping one.
 */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export function allocRgb(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3) };
}

/** Largest even size within the limits that keeps the aspect ratio. */
export function fitWithin(width: number, height: number, maxWidth: number, maxHeight: number): { width: number; height: number } {
  const scale = Math.min(1, maxWidth / width, maxHeight / height);
  const even = (v: number) => Math.max(2, Math.floor((v * scale) / 2) * 2);
  return scale === 1 && width % 2 === 0 && height % 2 === 0 ? { width, height } : { width: even(width), height: even(height) };
}

/** Processing size: short side scaled to `shortSidePx`, both sides rounded to `multiple`. */
export function processingSize(
  width: number,
  height: number,
  shortSidePx: number,
  multiple: number,
): { width: number; height: number } {
  const round = (v: number) => Math.max(multiple, Math.round(v / multiple) * multiple);
  if (shortSidePx <= 0 || Math.min(width, height) <= shortSidePx) {
    return { width: round(width), height: round(height) };
  }
  const scale = shortSidePx / Math.min(width, height);
  return { width: round(width * scale), height: round(height * scale) };
}

/**
 * processingSize, then scaled down (aspect kept) until the long side fits `maxLongSidePx`: a
 * 100000x100 strip becomes a thin picture of a few thousand pixels, not a 10 MP model run.
 */
export function processingSizeWithin(
  width: number,
  height: number,
  shortSidePx: number,
  multiple: number,
  maxLongSidePx: number,
): { width: number; height: number } {
  const base = processingSize(width, height, shortSidePx, multiple);
  const long = Math.max(base.width, base.height);
  if (long <= maxLongSidePx) return base;
  const scale = maxLongSidePx / long;
  const fit = (v: number) => Math.max(multiple, Math.floor((v * scale) / multiple) * multiple);
  return { width: fit(base.width), height: fit(base.height) };
}

/** Closes a resource, idempotently, from both `close()` and `await using`. */
export interface Closable {
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

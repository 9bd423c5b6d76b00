import type { RgbImage } from './image.js';

/**
 * Frame buffers that a stage hands on and gets back once nobody reads them, so a steady stream
 * allocates nothing per frame. A buffer of another size than the one asked for is dropped: the
 * stream's size changed, and the old buffers will not fit again.
 */
export class RgbPool {
  readonly #free: RgbImage[] = [];
  readonly #maxFree: number;

  /** Keeps at most `maxFree` released buffers; more than a stage has in flight would only hold memory. */
  constructor(maxFree: number) {
    this.#maxFree = maxFree;
  }

  /** A released buffer of this size, else a new one. Its contents are whatever was there. */
  take(width: number, height: number): RgbImage {
    while (this.#free.length) {
      const img = this.#free.pop()!;
      if (img.width === width && img.height === height) return img;
    }
    return { width, height, data: new Uint8Array(width * height * 3) };
  }

  /** Gives a buffer back for reuse; the caller must not read or write it afterwards. */
  release(img: RgbImage): void {
    if (this.#free.length < this.#maxFree) this.#free.push(img);
  }
}

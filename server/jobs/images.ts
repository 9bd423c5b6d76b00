/**
 * Single-image translation for the HTTP route: at most `maxConcurrentImages` at once, a short
 * queue behind them and a BusyError (503, Retry-After) past it, each run on a warm pooled
 * generator, so a burst of requests shares a few ORT sessions instead of opening one per request.
 */
import type { Config } from '../config.js';
import { ConcurrencyGate } from '../shared/gate.js';
import { InferenceError } from '../shared/errors.js';
import type { GeneratorPool } from './pool.js';
import { readImageHeader, translateImage, type ImageResult } from './translate-image.js';

export type ImagesConfig = Pick<
  Config,
  'processingShortSidePx' | 'maxImagePixels' | 'maxImageAspectRatio' | 'maxConcurrentImages' | 'maxQueuedImages'
>;

/** Retry-After for a refused image: about one image's time on a CPU. */
const IMAGE_RETRY_AFTER_S = 5;

export class ImageTranslator {
  readonly #config: ImagesConfig;
  readonly #pool: GeneratorPool;
  readonly #gate: ConcurrencyGate;

  constructor(config: ImagesConfig, pool: GeneratorPool) {
    this.#config = config;
    this.#pool = pool;
    this.#gate = new ConcurrencyGate({
      maxRunning: config.maxConcurrentImages,
      maxWaiting: config.maxQueuedImages,
      what: 'image translation',
      retryAfterS: IMAGE_RETRY_AFTER_S,
    });
  }

  /** Throws the BusyError a translation would get now; for refusing before the upload is read. */
  checkCapacity(): void {
    this.#gate.check();
  }

  /** Images running and waiting now. */
  get load(): { running: number; waiting: number } {
    return { running: this.#gate.running, waiting: this.#gate.waiting };
  }

  /** Translates one image with a pooled generator; `modelId` must already be validated. */
  async translate(input: string | Buffer, modelId: string): Promise<ImageResult> {
    const limits = { maxPixels: this.#config.maxImagePixels, maxAspectRatio: this.#config.maxImageAspectRatio };
    // The header first: a refused image takes no place in the queue and loads no model.
    const header = await readImageHeader(input, limits);
    const leave = await this.#gate.enter();
    try {
      const generator = await this.#pool.acquire(modelId);
      let broken = false;
      try {
        return await translateImage({
          input,
          generator,
          processingShortSidePx: this.#config.processingShortSidePx,
          ...limits,
          header,
        });
      } catch (err) {
        broken = err instanceof InferenceError;
        throw err;
      } finally {
        await this.#pool.release(generator, broken);
      }
    } finally {
      leave();
    }
  }

  /** Refuses waiting and later requests (the pool is closed by its owner). Idempotent. */
  close(): void {
    this.#gate.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * The translation stage, the same for live sessions, video jobs and the pipeline bench: the
 * model, then temporal smoothing, the scale to output size and the encode. The second part of
 * frame N runs while the model works on frame N+1, so with the model in its worker thread the
 * frame rate is the model's own (bench: pipeline / model-only).
 */
import type { Frame, RgbConverter } from '../codec/index.js';
import type { Generator } from '../inference/index.js';
import type { RgbImage } from '../shared/image.js';
import { RgbPool } from '../shared/rgb-pool.js';
import type { TemporalSmoother } from '../temporal/index.js';

export interface TranslateJob<M> {
  /** The frame at processing size; not modified, held until `release`. */
  img: RgbImage;
  streamWidth: number;
  streamHeight: number;
  /** Handed to `encode` with the frame (timestamps, key-frame flags). */
  meta: M;
  /** Called once the job no longer reads `img`. */
  release?: () => void;
}

export interface FrameTranslatorOptions<M> {
  temporal: TemporalSmoother;
  converter: Pick<RgbConverter, 'fromRgb'>;
  /** Encodes and sends `yuv`, a frame the converter reuses: it must be consumed before this resolves. */
  encode: (yuv: Frame, meta: M) => Promise<void>;
  /** A frame that failed after the model ran (smoothing, scaling, encoding). */
  onError: (err: unknown) => void;
}

export class FrameTranslator<M> {
  readonly #opts: FrameTranslatorOptions<M>;
  #finishing: Promise<void> = Promise.resolve();
  /** Copies of the model's output: one being finished, one waiting for it. */
  readonly #outputs = new RgbPool(2);
  #runs = 0;

  constructor(opts: FrameTranslatorOptions<M>) {
    this.#opts = opts;
  }

  /** Model runs that completed. */
  get runs(): number {
    return this.#runs;
  }

  /**
   * Runs the model and queues the rest of the frame. Resolves once the model is done and the
   * previous frame has been finished, which is when the next model run may start; at most one
   * frame is finishing at a time, so a slow encoder slows the stream instead of queueing frames.
   */
  async translate(generator: Pick<Generator, 'run'>, job: TranslateJob<M>): Promise<void> {
    let out: RgbImage;
    try {
      out = await generator.run(job.img);
    } catch (err) {
      job.release?.();
      throw err;
    }
    this.#runs++;
    // The generator writes its next output into the same buffer.
    const own = this.#outputs.take(out.width, out.height);
    own.data.set(out.data);
    await this.#finishing;
    // setImmediate, not a microtask: the caller's next model run must be handed to the worker
    // before smoothing and scaling take the main thread.
    this.#finishing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#finish(job, own));
  }

  async #finish(job: TranslateJob<M>, out: RgbImage): Promise<void> {
    try {
      const smoothed = this.#opts.temporal.process(job.img, out);
      const yuv = this.#opts.converter.fromRgb(smoothed, job.streamWidth, job.streamHeight);
      await this.#opts.encode(yuv, job.meta);
    } catch (err) {
      this.#opts.onError(err);
    } finally {
      job.release?.();
      this.#outputs.release(out);
    }
  }

  /** Resolves when the last queued frame has been encoded (or failed). */
  flush(): Promise<void> {
    return this.#finishing;
  }
}

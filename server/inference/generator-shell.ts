/**
 * The Generator contract, and the shell that keeps it for every kind of generator: in-process
 * (generator.ts), in a worker (worker-generator.ts) and batched across streams (batch-runner.ts).
 */
import { ClosedError, InferenceError, asCycleStreamError } from '../shared/errors.js';
import type { Closable, RgbImage } from '../shared/image.js';
import type { ExecutionProviderName } from './providers.js';
import type { ModelManifest } from './manifest.js';

export interface GeneratorStats {
  readonly provider: ExecutionProviderName;
  /** Where session.run executes: an inference worker thread, or the caller's (main) thread. */
  readonly thread: 'worker' | 'main';
  readonly runs: number;
  readonly warmups: number;
  /** ORT session.run time of the last run. */
  readonly lastInferenceMs: number;
  readonly avgInferenceMs: number;
  /** Last run including the RGB <-> tensor conversions. */
  readonly lastRunMs: number;
  /** Frames the last run's session.run carried: above 1 when streams of one model were batched. */
  readonly lastBatch: number;
  /** Size the buffers are currently set up for (0 before the first run). */
  readonly width: number;
  readonly height: number;
}

export interface Generator extends Closable {
  readonly manifest: ModelManifest;
  readonly provider: ExecutionProviderName;
  /**
   * Translates one image; the result has the same size. Width and height must be
   * multiples of manifest.input.sizeMultiple. The returned image is owned by the
   * generator and overwritten by the next run, so consume or copy it first.
   * Not re-entrant: one run at a time (LatestFrameScheduler guarantees that).
   */
  run(img: RgbImage): Promise<RgbImage>;
  /** One untimed run at the size about to be served; ORT's first run at a new size is slow. */
  warmup(width: number, height: number): Promise<void>;
  stats(): GeneratorStats;
}

/** Throws InferenceError unless `img` is a well-formed RGB image of a size the model takes. */
function validateImage(manifest: ModelManifest, img: RgbImage): void {
  const { width, height } = img;
  const multiple = manifest.input.sizeMultiple;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new InferenceError(`${manifest.id}: invalid image size ${width}x${height}`);
  }
  if (width % multiple !== 0 || height % multiple !== 0) {
    throw new InferenceError(
      `${manifest.id}: image ${width}x${height} is not a multiple of ${multiple}; scale it to a multiple first (processingSize)`,
    );
  }
  if (img.data.length !== width * height * 3) {
    throw new InferenceError(`${manifest.id}: ${width}x${height} RGB image has ${img.data.length} bytes, expected ${width * height * 3}`);
  }
}

/** What differs between running ORT in-process and in a worker: one run, and the release. */
export interface GeneratorCore {
  manifest: ModelManifest;
  provider: ExecutionProviderName;
  thread: 'worker' | 'main';
  /**
   * Runs the model once on a validated image; returns the output (owned by the core),
   * session.run's ms, and how many frames that run carried (batching across streams; default 1).
   */
  infer(img: RgbImage): Promise<{ output: RgbImage; inferenceMs: number; batch?: number }>;
  /** Size the core's buffers are set up for (0 before the first run). */
  size(): { width: number; height: number };
  /** Frees the session; called once, never during a run. */
  release(): Promise<void>;
  /** Called once after release, whether it succeeded or not. */
  onClose: () => void;
}

/**
 * The Generator contract around a core: one run at a time, warm-up runs kept out of the
 * timings, errors as CycleStreamErrors, and an idempotent close that waits for the run in flight.
 */
export function createGeneratorShell(core: GeneratorCore): Generator {
  const { manifest, provider } = core;
  let busy: Promise<unknown> | null = null;
  let closing: Promise<void> | null = null;
  let runs = 0;
  let warmups = 0;
  let lastInferenceMs = 0;
  let totalInferenceMs = 0;
  let lastRunMs = 0;
  let lastBatch = 1;

  async function infer(img: RgbImage, timed: boolean): Promise<RgbImage> {
    if (closing) throw new ClosedError(`generator ${manifest.id} is closed`);
    if (busy) throw new InferenceError(`generator ${manifest.id}: run() called while a run is in progress`);
    validateImage(manifest, img);
    const started = performance.now();
    const job = core.infer(img);
    busy = job;
    try {
      const { output, inferenceMs, batch } = await job;
      if (timed) {
        lastBatch = batch ?? 1;
        runs++;
        lastInferenceMs = inferenceMs;
        totalInferenceMs += inferenceMs;
        lastRunMs = performance.now() - started;
      } else {
        warmups++;
      }
      return output;
    } catch (err) {
      throw asCycleStreamError(err, InferenceError);
    } finally {
      busy = null;
    }
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      // Let an in-flight run finish: releasing under it fails the run natively, and stopping a
      // worker inside session.run aborts the whole process.
      if (busy) await busy.catch(() => undefined);
      try {
        await core.release();
      } finally {
        core.onClose();
      }
    })();
    return closing;
  }

  return {
    manifest,
    provider,
    run: (img) => infer(img, true),
    async warmup(width, height) {
      const grey = new Uint8Array(width * height * 3).fill(128);
      await infer({ width, height, data: grey }, false);
    },
    stats: () => ({
      provider,
      thread: core.thread,
      runs,
      warmups,
      lastInferenceMs,
      avgInferenceMs: runs ? totalInferenceMs / runs : 0,
      lastRunMs,
      lastBatch,
      ...core.size(),
    }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

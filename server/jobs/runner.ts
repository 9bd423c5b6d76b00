/**
 * Runs the jobs its queue (queue.ts) hands it through translateVideo, progress saved and
 * emitted, a job interrupted on each of its starts given up, shutdown putting running jobs
 * back in the queue. Store errors (SQLite: disk full, locked) met here, in timers and in the
 * runner's callbacks, fail the job they concern or are retried later, and are logged; they
 * never reach the event loop.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import type { StageLogger } from '../inference/index.js';
import type { JobProgress } from '../contract/index.js';
import { InferenceError, JobAbandonedError, JobCancelledError, StoreError, asCycleStreamError } from '../shared/errors.js';
import { progressOf, recordProgress, type RunCounters } from './progress.js';
import type { GeneratorPool } from './pool.js';
import type { JobLayout } from './layout.js';
import type { JobRow } from './store.js';
import type { JobRecords } from './records.js';
import { translateVideo } from './translate-video.js';

export interface JobRunnerOptions {
  store: JobRecords;
  pool: GeneratorPool;
  layout: JobLayout;
  log: StageLogger;
  /** The job's state changed (read it from the store). */
  onChange(id: string): void;
  onProgress?: (progress: JobProgress) => void;
  /** Progress events per job at most this often. Default 250 ms. */
  progressIntervalMs?: number;
}

/** A job that keeps being interrupted (say it crashes the process) gives up after this many starts. */
const MAX_ATTEMPTS = 3;
const PROGRESS_SAVE_MS = 2000;
/** A store write that failed in the background is tried again after this long. */
const STORE_RETRY_MS = 1000;

interface Running extends RunCounters {
  controller: AbortController;
  done: Promise<void>;
  lastEmitMs: number;
  lastSaveMs: number;
}

export class JobRunner {
  readonly #opts: JobRunnerOptions;
  readonly #store: JobRecords;
  readonly #running = new Map<string, Running>();
  /** Ids in run(), from before the store is read until the run ends: a second run() of one must not start it again. */
  readonly #starting = new Set<string>();
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  readonly #log: StageLogger;
  #closing = false;

  constructor(opts: JobRunnerOptions) {
    this.#opts = opts;
    this.#store = opts.store;
    this.#log = opts.log;
  }

  /** The live counters of a job running here, if it is. */
  counters(id: string): RunCounters | undefined {
    return this.#running.get(id);
  }

  runningIds(): string[] {
    return [...this.#running.keys()];
  }

  /** Stops a job's run (if it runs here) with `reason`, and waits until it has let go of its files. */
  async stop(id: string, reason: Error): Promise<void> {
    const run = this.#running.get(id);
    if (!run) return;
    run.controller.abort(reason);
    await run.done;
  }

  /** Waits for a job's run to end, if it runs here. */
  async settled(id: string): Promise<void> {
    await this.#running.get(id)?.done;
  }

  /** Runs `fn` again after STORE_RETRY_MS unless closing; for store writes that failed in the background. */
  #retryLater(fn: () => void): void {
    if (this.#closing) return;
    const timer = setTimeout(() => {
      this.#retryTimers.delete(timer);
      fn();
    }, STORE_RETRY_MS);
    timer.unref();
    this.#retryTimers.add(timer);
  }

  /** Marks a job failed; if the store fails too, tries again later (a restart requeues it meanwhile). */
  async #recordFailure(id: string, code: string, message: string): Promise<void> {
    try {
      await this.#store.markFailed(id, Date.now(), code, message);
      this.#opts.onChange(id);
    } catch (err) {
      this.#log.error({ job: id, err: asCycleStreamError(err, StoreError).message }, 'could not record the job failure; trying again');
      this.#retryLater(() => void this.#recordFailure(id, code, message));
    }
  }

  /**
   * Runs one job (the queue calls this when a worker is free) and resolves when the run has
   * ended, whatever its end. `takeOver`: a record left running by another node is this node's
   * to run. A store that fails before the run starts rejects: the queue tries again later.
   */
  async run(id: string, opts: { takeOver?: boolean } = {}): Promise<void> {
    if (this.#closing || this.#running.has(id) || this.#starting.has(id)) return;
    this.#starting.add(id);
    try {
      let row = await this.#store.get(id);
      if (row && opts.takeOver && row.state === 'running') {
        // The cluster queue handed over a job whose worker died (its lock expired): start it again here.
        await this.#store.requeue(id);
        row = await this.#store.get(id);
      }
      if (row) await this.#start(row);
    } finally {
      this.#starting.delete(id);
    }
  }

  /** Moves the record to running and runs the job; resolves when the run has ended. */
  async #start(row: JobRow): Promise<void> {
    if (row.attempts >= MAX_ATTEMPTS) {
      const err = new JobAbandonedError(`gave up after ${row.attempts} starts: the server stopped during each`);
      await this.#store.markFailed(row.id, Date.now(), err.code, err.message);
      this.#opts.onChange(row.id);
      return;
    }
    if (!(await this.#store.markRunning(row.id, Date.now()))) return;
    if (this.#closing) {
      // Closed while the record moved: it goes back for the next start.
      await this.#tryRequeue(row.id);
      return;
    }
    const run: Running = {
      controller: new AbortController(),
      done: Promise.resolve(),
      framesDone: 0,
      framesTotal: row.framesTotal,
      samples: [],
      lastEmitMs: 0,
      lastSaveMs: Date.now(),
    };
    this.#running.set(row.id, run);
    this.#opts.onChange(row.id);
    run.done = this.#execute(row, run)
      .catch((err: unknown) => this.#log.error({ job: row.id, err }, 'job run failed unexpectedly'))
      .finally(() => {
        this.#running.delete(row.id);
      });
    return run.done;
  }

  async #execute(row: JobRow, run: Running): Promise<void> {
    const layout = this.#opts.layout;
    const partial = layout.partialPath(row.id);
    const result = layout.resultPath(row.id);
    const signal = run.controller.signal;
    let generator = null;
    let broken = false;
    try {
      generator = await this.#opts.pool.acquire(row.modelId);
      const res = await translateVideo({
        inputPath: layout.inputPath(row),
        outputPath: partial,
        probe: row.probe,
        generator,
        smoothing: row.smoothing,
        processingShortSidePx: row.processingShortSidePx,
        outputSize: { width: row.outputWidth, height: row.outputHeight },
        signal,
        onProgress: (p) => this.#onProgress(row.id, run, p.framesDone, p.framesTotal),
      });
      // Durable before it is announced: the result must not vanish with a crash right after "done".
      const fh = await open(partial, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(partial, result);
      const { size } = await stat(result);
      let marked: boolean;
      try {
        marked = await this.#store.markDone(row.id, Date.now(), size, res.frames);
      } catch (err) {
        // The store's failure, not the model's: the job fails as STORE_FAILED and the generator is kept.
        throw asCycleStreamError(err, StoreError);
      }
      if (marked) {
        this.#log.info({ job: row.id, frames: res.frames, audio: res.audio }, 'job done');
      } else {
        // Cancelled between the last frame and here: the cancel wins.
        await rm(result, { force: true });
      }
    } catch (err) {
      await rm(partial, { force: true }).catch(() => undefined);
      await rm(result, { force: true }).catch(() => undefined);
      const reason: unknown = signal.aborted ? signal.reason : null;
      if (signal.aborted && !(reason instanceof StoreError)) {
        // Shutting down: back to the queue for the next start. Otherwise cancel() already marked it.
        if (this.#closing) await this.#tryRequeue(row.id);
      } else {
        const e = reason instanceof StoreError ? reason : asCycleStreamError(err, InferenceError);
        broken = e instanceof InferenceError;
        this.#log.warn({ job: row.id, err: e.message, code: e.code }, 'job failed');
        await this.#recordFailure(row.id, e.code, e.message);
        return;
      }
    } finally {
      if (generator) await this.#opts.pool.release(generator, broken);
    }
    this.#opts.onChange(row.id);
  }

  async #tryRequeue(id: string): Promise<void> {
    try {
      await this.#store.requeue(id);
    } catch (err) {
      // Left as running in the store: the next start requeues it all the same.
      this.#log.warn({ job: id, err: asCycleStreamError(err, StoreError).message }, 'could not requeue the job at shutdown');
    }
  }

  #onProgress(id: string, run: Running, framesDone: number, framesTotal: number): void {
    const now = Date.now();
    recordProgress(run, now, framesDone, framesTotal);
    if (now - run.lastSaveMs >= PROGRESS_SAVE_MS) {
      run.lastSaveMs = now;
      void this.#saveProgress(id, run, framesDone, framesTotal);
    }
    const interval = this.#opts.progressIntervalMs ?? 250;
    if (now - run.lastEmitMs >= interval || framesDone === framesTotal) {
      run.lastEmitMs = now;
      this.#opts.onProgress?.(progressOf(id, 'running', run));
    }
  }

  /** Saves a run's progress, and stops the run if its record no longer says running. Never rejects. */
  async #saveProgress(id: string, run: Running, framesDone: number, framesTotal: number): Promise<void> {
    try {
      await this.#store.saveProgress(id, framesDone, framesTotal);
      // Cancelled through another node: this run's record no longer says running.
      if (!(await this.#store.isRunning(id))) run.controller.abort(new JobCancelledError('cancelled by request'));
    } catch (err) {
      // Called from inside the runner: stop the run, and #execute records the failure.
      const e = asCycleStreamError(err, StoreError);
      run.controller.abort(e instanceof StoreError ? e : new StoreError(e.message, { cause: err }));
    }
  }

  /**
   * Stops every run (each goes back in the queue for the next start) and waits for them;
   * no job starts after this. Idempotent.
   */
  async close(reason: Error): Promise<void> {
    this.#closing = true;
    for (const t of this.#retryTimers) clearTimeout(t);
    this.#retryTimers.clear();
    const runs = [...this.#running.values()];
    for (const r of runs) r.controller.abort(reason);
    await Promise.all(runs.map((r) => r.done.catch(() => undefined)));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close(new JobCancelledError('the job runner closed'));
  }
}

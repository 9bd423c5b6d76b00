import { InferenceError, asCycleStreamError, type CycleStreamError } from '../shared/errors.js';
import type { Closable } from '../shared/image.js';

export interface LatestFrameSchedulerOptions<TIn, TOut> {
  /** The slow stage (e.g. generator.run). Called with one input at a time. */
  process: (input: TIn) => Promise<TOut>;
  /** Each result, in submission order. */
  onResult?: (output: TOut, input: TIn) => void;
  /** A failed job (wrapped as a CycleStreamError); the scheduler carries on with the next frame. */
  onError?: (error: CycleStreamError, input: TIn) => void;
  /** An input that will never be processed (replaced by a newer one, or pushed around close). */
  onDrop?: (input: TIn) => void;
}

export interface LatestFrameSchedulerStats {
  readonly submitted: number;
  readonly processed: number;
  readonly failed: number;
  /** Inputs replaced by a newer frame before they started, or discarded by close(). */
  readonly dropped: number;
  /** 0 or 1. */
  readonly inFlight: number;
  /** 0 or 1. */
  readonly pending: number;
  /** Results an async-iterator consumer was too slow to take (newer result replaced them). */
  readonly resultsSkipped: number;
  readonly closed: boolean;
}

export interface ScheduledResult<TIn, TOut> {
  readonly input: TIn;
  readonly output: TOut;
}

interface Sink<TIn, TOut> {
  latest: ScheduledResult<TIn, TOut> | null;
  wake: ((r: IteratorResult<ScheduledResult<TIn, TOut>>) => void) | null;
  done: boolean;
}

/**
 * Latest-frame-wins scheduling for a live stream: one job in flight, at most one
 * pending; a frame arriving while busy replaces the pending one. A slow stage thus
 * costs frame rate, never delay: the next job always starts on the newest frame.
 *
 * Inputs are held by reference until processed or dropped; push images the caller
 * will not overwrite meanwhile (onDrop tells when a buffer can be reused).
 */
export class LatestFrameScheduler<TIn, TOut> implements Closable {
  readonly #opts: LatestFrameSchedulerOptions<TIn, TOut>;
  #pending: { input: TIn } | null = null;
  #running: Promise<void> | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  #idleWaiters: (() => void)[] = [];
  #sinks = new Set<Sink<TIn, TOut>>();
  #submitted = 0;
  #processed = 0;
  #failed = 0;
  #dropped = 0;
  #resultsSkipped = 0;

  constructor(opts: LatestFrameSchedulerOptions<TIn, TOut>) {
    this.#opts = opts;
  }

  /** Offers a frame. Returns false when it was refused because the scheduler is closed. */
  push(input: TIn): boolean {
    this.#submitted++;
    if (this.#closed) {
      this.#drop(input);
      return false;
    }
    if (this.#pending) this.#drop(this.#pending.input);
    this.#pending = { input };
    this.#pump();
    return true;
  }

  /** Resolves once nothing is in flight or pending (pending frames are processed first). */
  idle(): Promise<void> {
    if (!this.#running && !this.#pending) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Async-iterator view of the results for a consumer that pulls. It keeps only the
   * newest unread result, so a slow consumer skips results instead of lagging behind.
   * Ends when the scheduler closes.
   */
  results(): AsyncIterableIterator<ScheduledResult<TIn, TOut>> {
    const sink: Sink<TIn, TOut> = { latest: null, wake: null, done: this.#closed };
    this.#sinks.add(sink);
    const finish = (): IteratorResult<ScheduledResult<TIn, TOut>> => {
      sink.done = true;
      this.#sinks.delete(sink);
      return { done: true, value: undefined };
    };
    const iterator: AsyncIterableIterator<ScheduledResult<TIn, TOut>> = {
      next: () => {
        if (sink.latest) {
          const value = sink.latest;
          sink.latest = null;
          return Promise.resolve({ done: false, value });
        }
        if (sink.done) return Promise.resolve(finish());
        return new Promise((resolve) => {
          sink.wake = resolve;
        });
      },
      return: () => Promise.resolve(finish()),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  stats(): LatestFrameSchedulerStats {
    return {
      submitted: this.#submitted,
      processed: this.#processed,
      failed: this.#failed,
      dropped: this.#dropped,
      inFlight: this.#running ? 1 : 0,
      pending: this.#pending ? 1 : 0,
      resultsSkipped: this.#resultsSkipped,
      closed: this.#closed,
    };
  }

  /** Stops taking frames, discards the pending one, waits for the job in flight, ends iterators. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      if (this.#pending) {
        const { input } = this.#pending;
        this.#pending = null;
        this.#drop(input);
      }
      this.#closing = (this.#running ?? Promise.resolve()).then(() => {
        for (const sink of this.#sinks) {
          sink.done = true;
          if (sink.wake && !sink.latest) {
            const wake = sink.wake;
            sink.wake = null;
            this.#sinks.delete(sink);
            wake({ done: true, value: undefined });
          }
        }
        this.#notifyIdle();
      });
    }
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #drop(input: TIn): void {
    this.#dropped++;
    this.#safely(input, () => this.#opts.onDrop?.(input));
  }

  #pump(): void {
    if (this.#running || !this.#pending || this.#closed) return;
    const { input } = this.#pending;
    this.#pending = null;
    this.#running = this.#runJob(input);
  }

  async #runJob(input: TIn): Promise<void> {
    let output: TOut;
    try {
      output = await this.#opts.process(input);
    } catch (err) {
      this.#failed++;
      const error = asCycleStreamError(err, InferenceError);
      this.#safely(input, () => this.#opts.onError?.(error, input));
      this.#finishJob();
      return;
    }
    this.#processed++;
    this.#emit({ input, output });
    this.#finishJob();
  }

  #finishJob(): void {
    this.#running = null;
    this.#pump();
    if (!this.#running && !this.#pending) this.#notifyIdle();
  }

  #emit(result: ScheduledResult<TIn, TOut>): void {
    this.#safely(result.input, () => this.#opts.onResult?.(result.output, result.input));
    for (const sink of this.#sinks) {
      if (sink.wake) {
        const wake = sink.wake;
        sink.wake = null;
        wake({ done: false, value: result });
      } else {
        if (sink.latest) this.#resultsSkipped++;
        sink.latest = result;
      }
    }
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** A throwing callback must not wedge the scheduler; it is reported through onError. */
  #safely(input: TIn, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      try {
        this.#opts.onError?.(asCycleStreamError(err, InferenceError), input);
      } catch {
        // onError itself threw; there is nowhere left to report it.
      }
    }
  }
}

/**
 * The seam between taking jobs in and running them: a JobQueue decides which accepted job
 * runs next, and where. Two implementations:
 * - EmbeddedQueue (the default): the SQLite store's oldest queued rows, up to
 *   `jobConcurrency` at a time in this process;
 * - BullQueue (bull-queue.ts, when REDIS_URL is set): BullMQ, whose workers on every node
 *   take jobs from one Redis queue.
 * Either way the queue calls `run(id)` and waits for its promise; the runner does the work.
 */
import type { StageLogger } from '../inference/index.js';
import { StoreError, asCycleStreamError } from '../shared/errors.js';
import type { JobStore } from './store.js';

export interface JobQueue {
  /** Whether jobs can be enqueued now: false while a cluster node cannot reach Redis. */
  readonly reachable: boolean;
  /** True for the cluster (BullMQ) queue. */
  readonly clustered: boolean;
  /** A job was accepted (its record says queued): run it when a worker is free. */
  enqueue(id: string): Promise<void>;
  /** A job left the queue by request (cancel or delete) before it ran. */
  remove(id: string): Promise<void>;
  /** Jobs waiting for a worker, over every node. */
  depth(): Promise<number>;
  /** Whether the queue knows a job by this id, in any state (cluster mode's orphan sweep); throws when it cannot say. */
  holds(id: string): Promise<boolean>;
  /** No job starts after this; runs in progress are the runner's to stop. Idempotent. */
  close(): Promise<void>;
}

/**
 * Runs one job to its end (done, failed, cancelled or requeued); rejects only when the store
 * failed before the run started (the queue tries again later).
 */
export type RunJob = (id: string) => Promise<void>;

export interface EmbeddedQueueOptions {
  store: JobStore;
  jobConcurrency: number;
  run: RunJob;
  log: StageLogger;
}

/** A store read that failed is tried again after this long. */
const STORE_RETRY_MS = 1000;

export class EmbeddedQueue implements JobQueue {
  readonly reachable = true;
  readonly clustered = false;
  readonly #opts: EmbeddedQueueOptions;
  readonly #inFlight = new Set<string>();
  #scheduled = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(opts: EmbeddedQueueOptions) {
    this.#opts = opts;
    this.#schedule();
  }

  async enqueue(): Promise<void> {
    this.#schedule();
  }

  async remove(): Promise<void> {
    // The row's state is the queue here: a row no longer queued is never picked.
  }

  async depth(): Promise<number> {
    return Math.max(0, this.#opts.store.countActive() - this.#inFlight.size);
  }

  async holds(): Promise<boolean> {
    // Nothing but the rows: a job this queue knows has a row.
    return false;
  }

  /** Starts queued jobs while there is room; deferred, so a burst of calls schedules once. */
  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      try {
        while (!this.#closed && this.#inFlight.size < this.#opts.jobConcurrency) {
          const next = this.#opts.store.nextQueued(this.#inFlight);
          if (!next) break;
          this.#start(next.id);
        }
      } catch (err) {
        this.#opts.log.error({ err: asCycleStreamError(err, StoreError).message }, 'the job store failed while starting jobs; trying again');
        this.#retryLater();
      }
    });
  }

  #start(id: string): void {
    this.#inFlight.add(id);
    this.#opts.run(id).then(
      () => {
        this.#inFlight.delete(id);
        this.#schedule();
      },
      (err: unknown) => {
        // Not at once: a store that keeps failing would otherwise be asked in a tight loop.
        this.#inFlight.delete(id);
        this.#opts.log.error({ err: asCycleStreamError(err, StoreError).message }, 'the job store failed while starting jobs; trying again');
        this.#retryLater();
      },
    );
  }

  #retryLater(): void {
    if (this.#closed || this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#schedule();
    }, STORE_RETRY_MS);
    this.#retryTimer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

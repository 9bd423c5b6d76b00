/**
 * The job manager's housekeeping: recovery at start-up (one node), deletion of a job with its
 * files, the periodic expiry of ended jobs past their time to live and, in a cluster, the
 * periodic sweep of job folders that no job owns (orphans.ts). What runs from its timer never
 * throws: failures are logged and tried again at the next sweep.
 */
import type { StageLogger } from '../inference/index.js';
import { StoreError, asCycleStreamError } from '../shared/errors.js';
import type { JobEvents } from './events.js';
import { sweepIntervalMs, type JobLayout } from './layout.js';
import type { JobStores } from './open-queue.js';
import { OrphanSweeper, type OrphanChecks } from './orphans.js';
import type { JobRecords } from './records.js';

export interface HousekeepingOptions {
  stores: JobStores;
  layout: JobLayout;
  events: JobEvents;
  jobTtlHours: number;
  log: StageLogger;
}

export class JobHousekeeping {
  readonly #opts: HousekeepingOptions;
  readonly #timer: NodeJS.Timeout;
  #orphans: OrphanSweeper | null = null;
  #closed = false;

  /** Recovers (before the queue opens: it would take the interrupted jobs' places), then sweeps now and periodically. */
  constructor(opts: HousekeepingOptions) {
    this.#opts = opts;
    this.#recover();
    void this.sweep();
    this.#timer = setInterval(() => {
      void this.sweep();
      void this.#orphans?.sweep();
    }, sweepIntervalMs(opts.jobTtlHours * 3_600_000));
    this.#timer.unref();
  }

  /** Start-up: uploads in flight were never accepted; jobs that were running go back in the queue. */
  #recover(): void {
    // In a cluster the other nodes' runs and uploads are live: BullMQ's stalled check and reconcile recover instead.
    if (this.#opts.stores.kind !== 'sqlite') return;
    const sqlite = this.#opts.stores.records;
    const requeued = sqlite.requeueInterrupted();
    if (requeued.length) this.#opts.log.info({ jobs: requeued }, 'jobs interrupted by a restart are queued again');
    this.#opts.layout.recover(sqlite);
  }

  get #store(): JobRecords {
    return this.#opts.stores.records;
  }

  /** Cluster mode: from now on, folders that no job owns are swept too (once Redis is reachable, then with every sweep). */
  sweepOrphansWith(checks: OrphanChecks): void {
    this.#orphans = new OrphanSweeper(this.#opts.layout, checks, this.#opts.log);
  }

  /** Removes the folders that no job owns; returns how many (0 outside cluster mode). Never throws. */
  sweepOrphans(nowMs: number): Promise<number> {
    return this.#closed || !this.#orphans ? Promise.resolve(0) : this.#orphans.sweep(nowMs);
  }

  /** Deletes ended jobs past their time to live; returns how many. Never throws. */
  async sweep(nowMs = Date.now()): Promise<number> {
    if (this.#closed) return 0;
    try {
      const cutoff = nowMs - this.#opts.jobTtlHours * 3_600_000;
      const ids = await this.#store.expired(cutoff);
      for (const id of ids) await this.deleteJob(id);
      if (ids.length) this.#opts.log.info({ jobs: ids.length }, 'expired jobs deleted');
      return ids.length;
    } catch (err) {
      this.#opts.log.error({ err: asCycleStreamError(err, StoreError).message }, 'job clean-up failed; trying again at the next sweep');
      return 0;
    }
  }

  /** The job's record and files, gone; its watchers hear 'deleted'. */
  async deleteJob(id: string): Promise<void> {
    const row = await this.#store.get(id);
    await this.#store.delete(id);
    this.#opts.layout.removeJob(id);
    if (row) this.#opts.events.emitDeleted(row);
  }

  /** Stops the sweeps. Idempotent. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#orphans?.close();
  }
}

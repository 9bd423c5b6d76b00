/**
 * Cluster mode's clean-up of job folders that no job owns. A single node removes them at
 * start (layout.ts, `recover`); in a cluster another node may be between moving an upload into
 * its folder and writing its record, so a folder goes only when it is older than a grace
 * period, has no record in the job store, and BullMQ knows no job by its id (a job that is
 * waiting, active or delayed keeps its folder whatever the store says). When Redis cannot be
 * asked, nothing is removed.
 */
import type { StageLogger } from '../inference/index.js';
import type { JobLayout } from './layout.js';

/**
 * How old a folder without a record must be before it is removed: far longer than the moment
 * between an upload's move into its folder and its record, even on a node stalled by load.
 */
export const ORPHAN_GRACE_MS = 10 * 60_000;

export interface OrphanChecks {
  /** Whether the job store has a record with this id. */
  hasRecord(id: string): Promise<boolean>;
  /** Whether the cluster queue holds a job with this id, in any state; throws when it cannot say. */
  queueHolds(id: string): Promise<boolean>;
  /** Whether Redis can be asked now. */
  reachable(): boolean;
}

/** The start-up sweep waits for Redis this often, this many times, then leaves it to the periodic sweep. */
const START_POLL_MS = 1000;
const START_TRIES = 60;

/** Sweeps once Redis is reachable after start, then whenever asked (the manager's periodic sweep). */
export class OrphanSweeper {
  readonly #layout: JobLayout;
  readonly #checks: OrphanChecks;
  readonly #log: StageLogger;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(layout: JobLayout, checks: OrphanChecks, log: StageLogger) {
    this.#layout = layout;
    this.#checks = checks;
    this.#log = log;
    this.#whenReachable(START_TRIES);
  }

  #whenReachable(tries: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#checks.reachable()) void this.sweep();
      else if (tries > 1) this.#whenReachable(tries - 1);
    }, START_POLL_MS);
    this.#timer.unref();
  }

  /** Removes the orphaned folders; returns how many. Never throws. */
  async sweep(nowMs = Date.now()): Promise<number> {
    if (this.#closed) return 0;
    try {
      return (await sweepOrphans(this.#layout, this.#checks, this.#log, nowMs)).length;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'sweep of job folders without a record failed; trying again at the next sweep');
      return 0;
    }
  }

  /** Idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** Removes the orphaned folders; returns their ids. Throws only what the checks throw. */
export async function sweepOrphans(layout: JobLayout, checks: OrphanChecks, log: StageLogger, nowMs = Date.now(), graceMs = ORPHAN_GRACE_MS): Promise<string[]> {
  if (!checks.reachable()) return [];
  const removed: string[] = [];
  for (const { id, lastChangeMs } of layout.jobFolders()) {
    if (nowMs - lastChangeMs < graceMs) continue;
    if (await checks.hasRecord(id)) continue;
    if (await checks.queueHolds(id)) continue;
    layout.removeJob(id);
    removed.push(id);
  }
  if (removed.length) log.info({ jobs: removed }, 'job folders without a record removed');
  return removed;
}

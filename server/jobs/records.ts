/**
 * What the job manager, runner and queues need from the job records, whichever store keeps
 * them: the SQLite file in DATA_DIR (store.ts, synchronous, one node) or Redis
 * (redis-store.ts, cluster mode). Every method may answer now or with a promise; callers await.
 */
import type { JobRow, NewJob } from './store.js';

export type Awaitable<T> = T | Promise<T>;

export interface JobRecords {
  insert(job: NewJob): Awaitable<JobRow>;
  get(id: string): Awaitable<JobRow | null>;
  /** Newest first. */
  list(limit?: number): Awaitable<JobRow[]>;
  /** Newest first: the jobs whose token hashes are given. */
  listByTokenHashes(hashes: readonly string[], limit?: number): Awaitable<JobRow[]>;
  /** Jobs holding a queue place (queued or running), over all clients or for one. */
  countActive(client?: string): Awaitable<number>;
  /** Queued -> running; false when someone else (a cancel) got there first. */
  markRunning(id: string, nowMs: number): Awaitable<boolean>;
  saveProgress(id: string, framesDone: number, framesTotal: number): Awaitable<void>;
  /** False when the job no longer runs (in a cluster, cancelled through another node). */
  isRunning(id: string): Awaitable<boolean>;
  /** Ids of the queued jobs, oldest first. */
  queuedIds(limit?: number): Awaitable<string[]>;
  /** Running -> done; false when the job was cancelled in the meantime. */
  markDone(id: string, nowMs: number, resultBytes: number, framesDone: number): Awaitable<boolean>;
  /** Queued or running -> failed; an ended job keeps its state. */
  markFailed(id: string, nowMs: number, code: string, message: string): Awaitable<void>;
  /** Queued or running -> cancelled; false when it had already ended. */
  markCancelled(id: string, nowMs: number): Awaitable<boolean>;
  /** Running -> queued: its run stopped before the end. */
  requeue(id: string): Awaitable<void>;
  /** Ended jobs older than the cutoff. */
  expired(cutoffMs: number): Awaitable<string[]>;
  delete(id: string): Awaitable<void>;
  close(): Awaitable<void>;
}

/**
 * The cluster's job queue (REDIS_URL set): BullMQ on one Redis. Every node runs a Worker with
 * `jobConcurrency` slots, and a job accepted by any node runs on whichever node has a free
 * slot. A worker that dies mid-job stops renewing its lock; after `jobStalledMs` BullMQ's
 * stalled-job check on another node puts the job back in the wait list, and it runs again from
 * its first frame there.
 *
 * The job records are in Redis too (redis-store.ts); BullMQ carries only the job id. A record that says queued but has no BullMQ job (accepted while Redis was
 * unreachable, or requeued by a node that shut down) is enqueued again by `reconcile()`,
 * which every node runs every `jobStalledMs`: nothing accepted is lost.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { StageLogger } from '../inference/index.js';
import type { JobQueue, RunJob } from './queue.js';
import type { JobRecords } from './records.js';

export interface BullQueueOptions {
  redisUrl: string;
  store: JobRecords;
  jobConcurrency: number;
  jobStalledMs: number;
  run: RunJob;
  log: StageLogger;
  /** BullMQ queue name; tests give each their own. Default 'cyclestream-jobs'. */
  name?: string;
}

interface Payload {
  id: string;
}

export class BullQueue implements JobQueue {
  readonly #opts: BullQueueOptions;
  /** Commands fail at once while Redis is down (no offline queue), so a refusal is quick. */
  readonly #conn: Redis;
  /** The worker blocks on its connection; BullMQ requires no per-request retry limit there. */
  readonly #workerConn: Redis;
  readonly #queue: Queue<Payload>;
  /** None on a node with JOB_CONCURRENCY=0: it takes jobs in and leaves running them to the others. */
  readonly #worker: Worker<Payload> | null;
  readonly #reconcileTimer: NodeJS.Timeout;
  #closing: Promise<void> | null = null;

  constructor(opts: BullQueueOptions) {
    this.#opts = opts;
    const name = opts.name ?? 'cyclestream-jobs';
    this.#conn = new Redis(opts.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    this.#workerConn = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
    // ioredis reconnects by itself; these only keep the errors from being unhandled.
    this.#conn.on('error', () => undefined);
    this.#workerConn.on('error', () => undefined);
    this.#queue = new Queue<Payload>(name, { connection: this.#conn });
    this.#queue.on('error', () => undefined);
    this.#worker =
      opts.jobConcurrency > 0
        ? new Worker<Payload>(name, async (job) => opts.run(job.data.id), {
            connection: this.#workerConn,
            concurrency: opts.jobConcurrency,
            lockDuration: opts.jobStalledMs,
            stalledInterval: opts.jobStalledMs,
            // A job that kills its worker twice is not retried forever (the runner's MAX_ATTEMPTS also holds).
            maxStalledCount: 2,
          })
        : null;
    this.#worker?.on('error', (err) => opts.log.warn({ err: err.message }, 'job worker: redis error'));
    this.#reconcileTimer = setInterval(() => void this.reconcile(), opts.jobStalledMs);
    this.#reconcileTimer.unref();
    void this.reconcile();
  }

  readonly clustered = true;

  /** Whether this node can reach Redis now. */
  get reachable(): boolean {
    return this.#conn.status === 'ready';
  }

  async enqueue(id: string): Promise<void> {
    try {
      await this.#add(id);
    } catch (err) {
      // The record is durable; reconcile() enqueues it once Redis is back.
      this.#opts.log.warn({ job: id, err: (err as Error).message }, 'job accepted but not yet enqueued: redis unreachable');
    }
  }

  #add(id: string): Promise<unknown> {
    // The job id is the record's id: adding one that BullMQ still holds is a no-op.
    return this.#queue.add('video', { id }, { jobId: id, removeOnComplete: true, removeOnFail: true });
  }

  async remove(id: string): Promise<void> {
    // An active job is locked by its worker and cannot be removed; its run ends on the record's state.
    await this.#queue.remove(id).catch(() => undefined);
  }

  async depth(): Promise<number> {
    const counts = await this.#queue.getJobCounts('waiting', 'prioritized', 'delayed');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  async holds(id: string): Promise<boolean> {
    return (await this.#queue.getJobState(id)) !== 'unknown';
  }

  /** Enqueues every record that says queued and that BullMQ does not hold. Never throws. */
  async reconcile(): Promise<number> {
    if (this.#closing || !this.reachable) return 0;
    let added = 0;
    try {
      for (const id of await this.#opts.store.queuedIds()) {
        const state = await this.#queue.getJobState(id);
        if (state !== 'unknown' && state !== 'completed' && state !== 'failed') continue;
        if (state !== 'unknown') await this.#queue.remove(id);
        await this.#add(id);
        added++;
      }
      if (added) this.#opts.log.info({ jobs: added }, 'queued jobs missing from redis enqueued again');
    } catch (err) {
      this.#opts.log.warn({ err: (err as Error).message }, 'job reconcile failed; trying again later');
    }
    return added;
  }

  /**
   * Stops taking jobs. Runs in progress are not waited for: the runner stops them and requeues
   * their records, and reconcile() on another node (or this one's next start) enqueues them again.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#reconcileTimer);
      await this.#worker?.close(true).catch(() => undefined);
      await this.#queue.close().catch(() => undefined);
      this.#workerConn.disconnect();
      this.#conn.disconnect();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

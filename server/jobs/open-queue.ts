/**
 * Picks the job queue from the config: BullMQ when REDIS_URL is set (cluster mode), else the
 * embedded queue over the SQLite store, exactly as a single node has always worked.
 */
import type { Config } from '../config.js';
import type { StageLogger } from '../inference/index.js';
import { BullQueue } from './bull-queue.js';
import { EmbeddedQueue, type JobQueue } from './queue.js';
import type { JobRunner } from './runner.js';
import type { JobStore } from './store.js';

export function openJobQueue(opts: {
  config: Pick<Config, 'redisUrl' | 'jobConcurrency' | 'jobStalledMs'>;
  store: JobStore;
  runner: JobRunner;
  log: StageLogger;
  /** BullMQ queue name; tests give each cluster its own. */
  name?: string;
}): JobQueue {
  const { config, store, runner, log } = opts;
  if (!config.redisUrl) return new EmbeddedQueue({ store, jobConcurrency: config.jobConcurrency, run: (id) => runner.run(id), log });
  return new BullQueue({
    redisUrl: config.redisUrl,
    store,
    jobConcurrency: config.jobConcurrency,
    jobStalledMs: config.jobStalledMs,
    // BullMQ hands a job back when its worker died: the record still says running, and this node takes it over.
    run: (id) => runner.run(id, { takeOver: true }),
    log,
    ...(opts.name ? { name: opts.name } : {}),
  });
}

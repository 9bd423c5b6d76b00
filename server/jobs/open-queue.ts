/**
 * Picks the job records and the job queue from the config: with REDIS_URL (cluster mode) the
 * records live in Redis (redis-store.ts) and BullMQ is the queue; without it, the embedded
 * queue over the SQLite store in DATA_DIR, exactly as a single node has always worked.
 */
import type { Config } from '../config.js';
import type { StageLogger } from '../inference/index.js';
import { BullQueue } from './bull-queue.js';
import { EmbeddedQueue, type JobQueue } from './queue.js';
import { RedisJobStore } from './redis-store.js';
import type { JobRunner } from './runner.js';
import { JobStore } from './store.js';

export type JobStores = { kind: 'sqlite'; records: JobStore } | { kind: 'redis'; records: RedisJobStore; redisUrl: string };

export function openJobStores(config: Pick<Config, 'redisUrl'>, sqliteFile: string, openSqlite: (file: string) => JobStore = (f) => new JobStore(f)): JobStores {
  if (config.redisUrl) return { kind: 'redis', records: new RedisJobStore(config.redisUrl), redisUrl: config.redisUrl };
  return { kind: 'sqlite', records: openSqlite(sqliteFile) };
}

export function openJobQueue(opts: {
  config: Pick<Config, 'jobConcurrency' | 'jobStalledMs'>;
  stores: JobStores;
  runner: JobRunner;
  log: StageLogger;
  /** BullMQ queue name; tests give each cluster its own. */
  name?: string;
}): JobQueue {
  const { config, stores, runner, log } = opts;
  if (stores.kind === 'sqlite') return new EmbeddedQueue({ store: stores.records, jobConcurrency: config.jobConcurrency, run: (id) => runner.run(id), log });
  return new BullQueue({
    redisUrl: stores.redisUrl,
    store: stores.records,
    jobConcurrency: config.jobConcurrency,
    jobStalledMs: config.jobStalledMs,
    // BullMQ hands a job back when its worker died: the record still says running, and this node takes it over.
    run: (id) => runner.run(id, { takeOver: true }),
    log,
    ...(opts.name ? { name: opts.name } : {}),
  });
}

/**
 * What a JobManager is made of, built and wired in the order start-up needs: the layout and
 * the records first, recovery (housekeeping.ts) before the queue opens, since an open queue
 * starts taking queued jobs at once, and in a cluster the orphan sweep once the queue can be
 * asked about a job.
 */
import { pino } from 'pino';
import type { StageLogger } from '../inference/index.js';
import { JobEvents } from './events.js';
import { JobHousekeeping } from './housekeeping.js';
import { ImageTranslator } from './images.js';
import { JobLayout } from './layout.js';
import { openJobQueue, openJobStores } from './open-queue.js';
import type { JobManagerOptions, JobsConfig } from './options.js';
import { GeneratorPool } from './pool.js';
import type { JobQueue } from './queue.js';
import type { JobRecords } from './records.js';
import { JobRunner } from './runner.js';

export interface JobParts {
  readonly config: JobsConfig;
  readonly store: JobRecords;
  readonly layout: JobLayout;
  readonly pool: GeneratorPool;
  readonly images: ImageTranslator;
  readonly events: JobEvents;
  readonly runner: JobRunner;
  readonly housekeeping: JobHousekeeping;
  readonly queue: JobQueue;
  /** Cluster mode: the queue's and the records' connections to Redis are both up (each reconnects on its own). */
  reachable(): boolean;
}

export function openJobParts(opts: JobManagerOptions): JobParts {
  const config = opts.config;
  const log: StageLogger = opts.logger ?? pino({ level: 'silent' });
  const layout = new JobLayout(config.dataDir);
  const stores = openJobStores(config, layout.sqliteFile, opts.openStore);
  const store: JobRecords = stores.records;
  const pool = new GeneratorPool({ host: opts.host });
  const images = new ImageTranslator(config, pool);
  // The events read the runner's live counters, and the runner reports its changes through the events.
  const events = new JobEvents({ store, counters: (id) => runner.counters(id), onUpdate: opts.onUpdate, log });
  const runner = new JobRunner({
    store,
    pool,
    layout,
    log,
    onChange: (id) => void events.emitCurrent(id),
    onProgress: opts.onProgress,
    progressIntervalMs: opts.progressIntervalMs,
  });
  const housekeeping = new JobHousekeeping({ stores, layout, events, jobTtlHours: config.jobTtlHours, log });
  const queue = openJobQueue({ config, stores, runner, log, name: opts.queueName });
  const reachable = () => queue.reachable && (stores.kind !== 'redis' || stores.records.reachable);
  // Cluster mode: folders no job owns, which a single node removes at start (housekeeping.ts).
  if (config.redisUrl) housekeeping.sweepOrphansWith({ reachable, hasRecord: async (id) => (await store.get(id)) !== null, queueHolds: (id) => queue.holds(id) });
  return { config, store, layout, pool, images, events, runner, housekeeping, queue, reachable };
}

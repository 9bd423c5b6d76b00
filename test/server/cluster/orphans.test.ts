/**
 * Cluster mode, job folders that no job owns: swept only past the grace period, and never while
 * the job store has a record or BullMQ holds a job (waiting, active or delayed) by that id. A
 * single node's sweep at start removes any folder without a record at once; a cluster node's
 * must not, since another node may be between the folder and the record. Real Redis, a real
 * JobManager in this process, a worker-less node (JOB_CONCURRENCY=0) so nothing runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../../../server/config.js';
import { createInferenceHost } from '../../../server/inference/index.js';
import { JobManager } from '../../../server/jobs/index.js';
import { installPolyfills } from '../../../server/shared/index.js';
import { waitFor } from '../../helpers/app.js';
import { startRedis, type TestRedis } from '../../helpers/cluster.js';
import { FIXTURE_MODELS_DIR, REPO_ROOT } from '../../helpers/paths.js';
import { CLIPS, tempDir } from '../jobs/helpers.js';

const QUEUE = 'orphans-test';
const HOUR = 3_600_000;

let redis: TestRedis;
let data: Awaited<ReturnType<typeof tempDir>>;

before(async () => {
  installPolyfills();
  redis = await startRedis();
  data = await tempDir('cyclestream-orphans-');
});

after(async () => {
  await redis?.close();
  await data?.cleanup();
});

/** A job folder with an input file, last changed `ageMs` ago. */
function folder(id: string, ageMs: number): string {
  const dir = path.join(data.dir, 'jobs', id);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'input.mp4');
  writeFileSync(file, 'x');
  age(dir, ageMs);
  return dir;
}

function age(dir: string, ageMs: number): void {
  const at = new Date(Date.now() - ageMs);
  for (const name of readdirSync(dir)) utimesSync(path.join(dir, name), at, at);
  utimesSync(dir, at, at);
}

test('cluster start-up and periodic sweeps remove old folders with no record and no BullMQ job, and nothing else', { timeout: 120_000 }, async () => {
  const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE, { connection: conn });
  const takerConn = conn.duplicate();
  // Takes jobs by hand (no processor): one of them is active while the node sweeps.
  const taker = new Worker(QUEUE, null, { connection: takerConn });
  const closeClients = async () => {
    await taker.close(true).catch(() => undefined);
    await queue.close().catch(() => undefined);
    conn.disconnect();
    takerConn.disconnect();
  };
  const dirs = {
    orphan: folder('old-orphan', 2 * HOUR),
    young: folder('young-orphan', 60_000),
    waiting: folder('old-waiting', 2 * HOUR),
    delayed: folder('old-delayed', 2 * HOUR),
    active: folder('old-active', 2 * HOUR),
  };
  // old-active is taken first, while it is the only one waiting.
  await queue.add('video', { id: 'old-active' }, { jobId: 'old-active' });
  assert.equal((await taker.getNextJob('test-lock'))?.id, 'old-active');
  await queue.add('video', { id: 'old-waiting' }, { jobId: 'old-waiting' });
  await queue.add('video', { id: 'old-delayed' }, { jobId: 'old-delayed', delay: HOUR });
  const states = Object.fromEntries(await Promise.all(['old-waiting', 'old-delayed', 'old-active'].map(async (id) => [id, await queue.getJobState(id)] as const)));
  assert.deepEqual(states, { 'old-waiting': 'waiting', 'old-delayed': 'delayed', 'old-active': 'active' });

  const config = loadConfig({
    root: REPO_ROOT,
    overrides: { dataDir: data.dir, modelsDir: FIXTURE_MODELS_DIR, providers: ['cpu'], intraOpThreads: 1, web: false, redisUrl: redis.url, jobConcurrency: 0 },
  });
  const jobs = new JobManager({ config, host: createInferenceHost({ modelsDir: FIXTURE_MODELS_DIR, providers: ['cpu'], intraOpThreads: 1 }), queueName: QUEUE });
  try {
    // The start-up sweep, once Redis answers.
    assert.ok(await waitFor(() => !existsSync(dirs.orphan), 15_000), 'the old folder without a record is swept at start');
    for (const [name, dir] of Object.entries(dirs)) if (name !== 'orphan') assert.ok(existsSync(dir), `${name} kept`);

    // A job with a record, whose folder is old and which BullMQ no longer holds: kept by its record.
    const tempPath = jobs.uploadTempPath();
    copyFileSync(CLIPS.mpeg4, tempPath);
    const job = await jobs.submit({ tempPath, inputName: 'gallop.mp4', modelId: 'invert', smoothing: 0 });
    await queue.remove(job.id);
    const recorded = path.join(data.dir, 'jobs', job.id);
    age(recorded, 2 * HOUR);

    // The young orphan ages past the grace period: the next sweep takes it, and only it.
    assert.equal(await jobs.sweepOrphans(Date.now() + HOUR), 1);
    assert.equal(existsSync(dirs.young), false, 'the orphan past its grace period is swept');
    for (const dir of [dirs.waiting, dirs.delayed, dirs.active, recorded]) assert.ok(existsSync(dir), `${path.basename(dir)} kept`);
    assert.equal(await jobs.sweepOrphans(Date.now() + HOUR), 0, 'nothing more to sweep');

    // Redis down: nothing is removed, since BullMQ cannot be asked.
    await closeClients();
    const unknown = folder('old-while-redis-is-down', 2 * HOUR);
    await redis.stop();
    assert.ok(await waitFor(() => jobs.redisConnected === false, 10_000));
    assert.equal(await jobs.sweepOrphans(), 0);
    assert.ok(existsSync(unknown), 'kept while Redis cannot say');
    await redis.start();
  } finally {
    await closeClients();
    await jobs.close();
  }
});

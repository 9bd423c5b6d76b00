/**
 * Class: nothing may kill the process, the job store's part (issue 12, section 4): SQLite
 * errors (disk full, database locked) met in timers and callbacks fail the job they concern,
 * or are retried, and never reach the event loop.
 *
 * The store is the real JobStore on a real database; a subclass throws better-sqlite3's own
 * SqliteError (SQLITE_FULL, SQLITE_BUSY, with SQLite's messages) from one method on cue, at
 * each point where the queue writes: starting a job (setImmediate), saving progress (inside
 * the runner's callback), marking it done and then failed (after the run), the clean-up timer,
 * and accepting an upload.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { setFfmpegLogLevel } from '../../server/codec/index.js';
import { loadConfig } from '../../server/config.js';
import { createInferenceHost, type InferenceHost } from '../../server/inference/index.js';
import { JobManager, JobStore } from '../../server/jobs/index.js';
import { StoreError, installPolyfills } from '../../server/shared/index.js';
import { waitFor } from '../helpers/app.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { captureLogger, scratchModels } from '../server/inference/helpers.js';
import { writeConvStackModel } from '../server/inference/conv-stack-model.js';
import { CLIPS, tempDir } from '../server/jobs/helpers.js';

const FAILURES = {
  full: ['database or disk is full', 'SQLITE_FULL'],
  locked: ['database is locked', 'SQLITE_BUSY'],
} as const;

type Method = 'nextQueued' | 'markRunning' | 'saveProgress' | 'markDone' | 'markFailed' | 'expired' | 'insert';

/** The real store, with a switch that makes one of its methods throw SQLite's own error `times` times. */
class FailingStore extends JobStore {
  readonly armed = new Map<Method, { times: number; failure: keyof typeof FAILURES }>();
  readonly thrown: Method[] = [];

  fail(method: Method, failure: keyof typeof FAILURES, times = 1): void {
    this.armed.set(method, { times, failure });
  }

  #maybeThrow(method: Method): void {
    const a = this.armed.get(method);
    if (!a || a.times <= 0) return;
    a.times--;
    this.thrown.push(method);
    const [message, code] = FAILURES[a.failure];
    throw new Database.SqliteError(message, code);
  }

  override nextQueued(exclude: ReadonlySet<string>) {
    this.#maybeThrow('nextQueued');
    return super.nextQueued(exclude);
  }
  override markRunning(id: string, nowMs: number) {
    this.#maybeThrow('markRunning');
    return super.markRunning(id, nowMs);
  }
  override saveProgress(id: string, framesDone: number, framesTotal: number) {
    this.#maybeThrow('saveProgress');
    super.saveProgress(id, framesDone, framesTotal);
  }
  override markDone(id: string, nowMs: number, resultBytes: number, framesDone: number) {
    this.#maybeThrow('markDone');
    return super.markDone(id, nowMs, resultBytes, framesDone);
  }
  override markFailed(id: string, nowMs: number, code: string, message: string) {
    this.#maybeThrow('markFailed');
    super.markFailed(id, nowMs, code, message);
  }
  override expired(cutoffMs: number) {
    this.#maybeThrow('expired');
    return super.expired(cutoffMs);
  }
  override insert(job: Parameters<JobStore['insert']>[0]) {
    this.#maybeThrow('insert');
    return super.insert(job);
  }
}

let host: InferenceHost;
let models: Awaited<ReturnType<typeof scratchModels>>;
const crashes: unknown[] = [];
const recordCrash = (err: unknown) => void crashes.push(err);

before(async () => {
  installPolyfills();
  setFfmpegLogLevel('quiet');
  // Watches without changing what happens: an uncaught error would still end the run, and be named here.
  process.on('uncaughtExceptionMonitor', recordCrash);
  models = await scratchModels();
  host = createInferenceHost({ modelsDir: models.dir, providers: ['cpu'], intraOpThreads: 1 });
  await writeConvStackModel(models.dir, 'slow', 32, 6);
});

after(async () => {
  process.off('uncaughtExceptionMonitor', recordCrash);
  await host?.close();
  await models?.cleanup();
});

async function withManager(fn: (jobs: JobManager, store: FailingStore, log: ReturnType<typeof captureLogger>['lines'], dataDir: string) => Promise<void>) {
  const data = await tempDir('cyclestream-sec-store-');
  const cap = captureLogger();
  let store: FailingStore | null = null;
  const config = loadConfig({
    root: REPO_ROOT,
    overrides: { dataDir: data.dir, modelsDir: models.dir, providers: ['cpu'], intraOpThreads: 1, processingShortSidePx: 256, web: false },
  });
  const jobs = new JobManager({
    config,
    host,
    logger: cap.logger,
    openStore: (file) => (store = new FailingStore(file)),
  });
  try {
    await fn(jobs, store!, cap.lines, data.dir);
  } finally {
    await jobs.close();
    await data.cleanup();
  }
}

async function submit(jobs: JobManager, clip: string, modelId: string) {
  const tempPath = jobs.uploadTempPath();
  copyFileSync(clip, tempPath);
  return jobs.submit({ tempPath, inputName: path.basename(clip), modelId, smoothing: 0 });
}

const ended = (jobs: JobManager, id: string) => async () => ['done', 'failed', 'cancelled'].includes((await jobs.get(id)).state);

test('disk full while saving progress (inside the runner\'s callback): the job fails, the next one runs', async (t) => {
  await withManager(async (jobs, store, log) => {
    store.fail('saveProgress', 'full', 1000);
    const job = await submit(jobs, CLIPS.cows, 'slow');
    assert.ok(await waitFor(ended(jobs, job.id), 120_000, 50));
    const failed = await jobs.get(job.id);
    t.diagnostic(`${failed.state} after ${failed.framesDone} frames: ${failed.error?.code} ${failed.error?.message}`);
    assert.ok(store.thrown.includes('saveProgress'), 'the error was injected');
    assert.equal(failed.state, 'failed');
    assert.deepEqual(failed.error, { code: 'STORE_FAILED', message: 'database or disk is full' });
    assert.ok(log.some((l) => l.msg === 'job failed' && l.code === 'STORE_FAILED'));
    store.armed.clear();
    const next = await submit(jobs, CLIPS.mpeg4, 'invert');
    assert.ok(await waitFor(ended(jobs, next.id), 60_000, 50));
    assert.equal((await jobs.get(next.id)).state, 'done');
  });
  assert.deepEqual(crashes, []);
});

test('locked when marking a job done, and again when marking it failed: retried until recorded', async () => {
  await withManager(async (jobs, store, log) => {
    store.fail('markDone', 'locked');
    store.fail('markFailed', 'locked', 2);
    const job = await submit(jobs, CLIPS.mpeg4, 'invert');
    assert.ok(await waitFor(async () => (await jobs.get(job.id)).state === 'failed', 30_000, 50), JSON.stringify(await jobs.get(job.id)));
    assert.deepEqual(store.thrown, ['markDone', 'markFailed', 'markFailed']);
    assert.equal((await jobs.get(job.id)).error?.code, 'STORE_FAILED');
    assert.equal(log.filter((l) => l.msg === 'could not record the job failure; trying again').length, 2);
    assert.deepEqual(jobs.runningIds(), []);
  });
  assert.deepEqual(crashes, []);
});

test('disk full when starting a job (setImmediate) or in the clean-up timer: logged, retried, the job still runs', async () => {
  await withManager(async (jobs, store, log) => {
    store.fail('markRunning', 'full', 2);
    const job = await submit(jobs, CLIPS.mpeg4, 'invert');
    assert.ok(await waitFor(ended(jobs, job.id), 60_000, 50));
    assert.equal((await jobs.get(job.id)).state, 'done', 'started on a later try');
    assert.deepEqual(store.thrown, ['markRunning', 'markRunning']);
    assert.equal(log.filter((l) => l.msg === 'the job store failed while starting jobs; trying again').length, 2);

    store.fail('expired', 'locked');
    assert.equal(await jobs.sweep(Date.now() + 365 * 24 * 3_600_000), 0, 'a failed sweep deletes nothing and throws nothing');
    assert.ok(log.some((l) => l.msg === 'job clean-up failed; trying again at the next sweep'));
    assert.equal(await jobs.sweep(Date.now() + 365 * 24 * 3_600_000), 1, 'the next sweep does its work');
  });
  assert.deepEqual(crashes, []);
});

test('disk full when accepting an upload: a StoreError (503) for that request, nothing kept', async () => {
  await withManager(async (jobs, store, _log, dataDir) => {
    store.fail('insert', 'full');
    await assert.rejects(submit(jobs, CLIPS.mpeg4, 'invert'), (err: unknown) => err instanceof StoreError && err.status === 503);
    assert.deepEqual(readdirSync(path.join(dataDir, 'uploads')), []);
    assert.deepEqual(readdirSync(path.join(dataDir, 'jobs')), []);
    assert.deepEqual(await jobs.list(), []);
  });
  assert.deepEqual(crashes, []);
});

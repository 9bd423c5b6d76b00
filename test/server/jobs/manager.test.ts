/**
 * The job queue without HTTP: start-up recovery (uploads in flight and folders without a
 * job are removed; a job interrupted on every start gives up), time-to-live cleanup, and
 * the concurrency limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { setFfmpegLogLevel } from '../../../server/codec/index.js';
import { loadConfig } from '../../../server/config.js';
import { createInferenceHost } from '../../../server/inference/index.js';
import { JobManager } from '../../../server/jobs/index.js';
import { JobNotFoundError, installPolyfills } from '../../../server/shared/index.js';
import { FIXTURE_MODELS_DIR, REPO_ROOT } from '../../helpers/paths.js';
import { waitFor } from '../../helpers/app.js';
import { writeConvStackModel } from '../inference/conv-stack-model.js';
import { scratchModels } from '../inference/helpers.js';
import { CLIPS, tempDir } from './helpers.js';

function config(dataDir: string, modelsDir = FIXTURE_MODELS_DIR, extra: Record<string, unknown> = {}) {
  return loadConfig({
    root: REPO_ROOT,
    overrides: { dataDir, modelsDir, providers: ['cpu'], intraOpThreads: 1, processingShortSidePx: 128, web: false, ...extra },
  });
}

/** Loads models the way createApp's host does, from the folder the config names. */
function hostFor(modelsDir = FIXTURE_MODELS_DIR) {
  return createInferenceHost({ modelsDir, providers: ['cpu'], intraOpThreads: 1 });
}

setFfmpegLogLevel('error');

async function submitCopy(jobs: JobManager, clip: string, modelId: string) {
  const tempPath = jobs.uploadTempPath();
  copyFileSync(clip, tempPath);
  return jobs.submit({ tempPath, inputName: path.basename(clip), modelId, smoothing: 0 });
}

test('start-up recovery, then time-to-live cleanup of ended jobs', async () => {
  installPolyfills();
  const data = await tempDir();
  const host = hostFor();
  try {
    mkdirSync(path.join(data.dir, 'uploads'), { recursive: true });
    mkdirSync(path.join(data.dir, 'jobs', 'never-accepted'), { recursive: true });
    writeFileSync(path.join(data.dir, 'uploads', 'half.part'), 'half an upload');
    writeFileSync(path.join(data.dir, 'jobs', 'never-accepted', 'input.mp4'), 'x');

    const jobs = new JobManager({ config: config(data.dir, FIXTURE_MODELS_DIR, { jobTtlHours: 1 }), host });
    assert.equal(existsSync(path.join(data.dir, 'uploads', 'half.part')), false, 'upload in flight removed');
    assert.equal(existsSync(path.join(data.dir, 'jobs', 'never-accepted')), false, 'folder without a job removed');

    const job = await submitCopy(jobs, CLIPS.mpeg4, 'invert');
    assert.ok(await waitFor(async () => (await jobs.get(job.id)).state === 'done', 60_000));
    assert.equal(await jobs.sweep(Date.now()), 0, 'not expired yet');
    assert.equal(await jobs.sweep(Date.now() + 3_600_000 + 1000), 1);
    await assert.rejects(jobs.get(job.id), JobNotFoundError);
    assert.equal(existsSync(path.join(data.dir, 'jobs', job.id)), false);
    await jobs.close();
  } finally {
    await host.close();
    await data.cleanup();
  }
});

test('a job interrupted on each of its starts gives up instead of looping', async () => {
  installPolyfills();
  const data = await tempDir();
  const host = hostFor();
  try {
    let jobs = new JobManager({ config: config(data.dir), host });
    const job = await submitCopy(jobs, CLIPS.mpeg4, 'invert');
    await jobs.close();
    // As if the process had died during its third start.
    const db = new Database(path.join(data.dir, 'jobs.sqlite'));
    db.prepare("UPDATE jobs SET state = 'running', attempts = 3 WHERE id = ?").run(job.id);
    db.close();
    jobs = new JobManager({ config: config(data.dir), host });
    assert.ok(await waitFor(async () => (await jobs.get(job.id)).state === 'failed', 10_000));
    assert.equal((await jobs.get(job.id)).error?.code, 'JOB_ABANDONED');
    await jobs.close();
  } finally {
    await host.close();
    await data.cleanup();
  }
});

test('JOB_CONCURRENCY jobs run at once, the rest wait their turn', async () => {
  installPolyfills();
  const data = await tempDir();
  const models = await scratchModels();
  await writeConvStackModel(models.dir, 'slow', 32, 6);
  const host = hostFor(models.dir);
  try {
    const jobs = new JobManager({ config: config(data.dir, models.dir, { jobConcurrency: 2 }), host });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await submitCopy(jobs, CLIPS.h264, 'slow')).id);
    assert.ok(await waitFor(() => jobs.runningIds().length === 2, 30_000, 20), 'two jobs running');
    assert.equal((await jobs.list()).filter((j) => j.state === 'queued').length, 1, 'the third waits');
    for (const id of ids) await jobs.cancel(id);
    assert.deepEqual(jobs.runningIds(), []);
    assert.ok((await jobs.list()).every((j) => j.state === 'cancelled'));
    await jobs.close();
  } finally {
    await host.close();
    await models.cleanup();
    await data.cleanup();
  }
});

/**
 * Jobs survive the server going away: a real server process is killed (SIGKILL, no chance
 * to tidy up) while a job runs and another waits; started again on the same data folder,
 * it runs the interrupted job from the start and then the queued one, the uploads are byte
 * for byte what was sent, and the tokens handed out before the kill still open the jobs. A
 * graceful stop (close() mid-run) puts the running job back in the queue the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { openAsBlob, readFileSync } from 'node:fs';
import path from 'node:path';
import type { JobCreated, JobInfo } from '../../../server/contract/index.js';
import { startTestApp, waitFor } from '../../helpers/app.js';
import { bearer } from '../../helpers/jobs-http.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { writeConvStackModel } from '../inference/conv-stack-model.js';
import { scratchModels } from '../inference/helpers.js';
import { CLIPS, readVideo, tempDir } from './helpers.js';

async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'server', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', WEB: 'false', LOG_LEVEL: 'info', PROVIDERS: 'cpu', INTRA_OP_THREADS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /ready on (http:\/\/\S+?)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.replace('localhost', '127.0.0.1'));
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => void (out += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}): ${out}`));
    });
  });
  return { child, url };
}

async function submit(url: string, file: string, modelId: string): Promise<JobCreated> {
  const form = new FormData();
  form.set('modelId', modelId);
  form.set('smoothing', '0');
  form.set('file', await openAsBlob(file), path.basename(file));
  const res = await fetch(`${url}/api/jobs`, { method: 'POST', body: form });
  assert.equal(res.status, 201);
  return (await res.json()) as JobCreated;
}

/** Job tokens by id, as a client keeps them across the server's restart. */
const tokens = new Map<string, string>();

async function job(url: string, id: string): Promise<JobInfo> {
  const res = await fetch(`${url}/api/jobs/${id}`, { headers: bearer(tokens.get(id)!) });
  assert.equal(res.status, 200);
  return (await res.json()) as JobInfo;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('server killed mid-run: after a restart the running job runs again and the queued one follows', { timeout: 120_000 }, async (t) => {
  const models = await scratchModels();
  const data = await tempDir('cyclestream-restart-');
  await writeConvStackModel(models.dir, 'slow', 32, 6);
  const env = { DATA_DIR: data.dir, MODELS_DIR: models.dir, PROCESSING_SHORT_SIDE_PX: '128', JOB_CONCURRENCY: '1' };
  let server = await startServer(env);
  try {
    const first = await submit(server.url, CLIPS.h264, 'slow');
    const second = await submit(server.url, CLIPS.mpeg4, 'invert');
    tokens.set(first.id, first.token).set(second.id, second.token);
    assert.ok(await waitFor(async () => (await job(server.url, first.id)).framesDone >= 3, 60_000, 50), 'first job got going');
    assert.equal((await job(server.url, second.id)).state, 'queued');
    server.child.kill('SIGKILL');
    await new Promise((r) => server.child.once('exit', r));

    server = await startServer(env);
    const ended = await waitFor(async () => (await job(server.url, second.id)).state === 'done', 90_000, 100);
    const a = await job(server.url, first.id);
    const b = await job(server.url, second.id);
    t.diagnostic(`after restart: first ${a.state} (attempts ${a.attempts}), second ${b.state} (attempts ${b.attempts})`);
    assert.ok(ended, `second job: ${JSON.stringify(b)}`);
    assert.equal(a.state, 'done');
    assert.equal(a.attempts, 2, 'the interrupted job started twice');
    assert.equal(a.framesDone, 50);
    assert.equal(b.attempts, 1);
    const result = await fetch(`${server.url}${a.resultUrl}`, { headers: bearer(first.token) });
    assert.equal(result.status, 200);
    const file = path.join(data.dir, 'jobs', a.id, 'result.mp4');
    await result.arrayBuffer();
    assert.equal((await readVideo(file)).frames.length, 50);
    // The uploads are intact: byte for byte what was sent, on disk and through the API.
    for (const [j, clip] of [[first, CLIPS.h264], [second, CLIPS.mpeg4]] as const) {
      const input = await fetch(`${server.url}${j.inputUrl}?token=${j.token}`);
      assert.equal(input.status, 200);
      assert.equal(sha256(Buffer.from(await input.arrayBuffer())), sha256(readFileSync(clip)), `${j.id}: upload intact`);
    }
  } finally {
    server.child.kill('SIGKILL');
    await models.cleanup();
    await data.cleanup();
  }
});

test('graceful stop mid-run: the job goes back in the queue and finishes on the next start', { timeout: 120_000 }, async () => {
  const models = await scratchModels();
  const data = await tempDir('cyclestream-restart-');
  await writeConvStackModel(models.dir, 'slow', 32, 6);
  const overrides = { modelsDir: models.dir, dataDir: data.dir, providers: ['cpu' as const], processingShortSidePx: 128 };
  try {
    let srv = await startTestApp(overrides);
    const j = await submit(srv.url, CLIPS.h264, 'slow');
    tokens.set(j.id, j.token);
    assert.ok(await waitFor(async () => (await job(srv.url, j.id)).framesDone >= 2, 60_000, 50));
    await srv.close();
    srv = await startTestApp(overrides);
    assert.ok(await waitFor(async () => (await job(srv.url, j.id)).state === 'done', 90_000, 100));
    const done = await job(srv.url, j.id);
    assert.equal(done.attempts, 2);
    assert.equal(done.framesDone, 50);
    await srv.close();
  } finally {
    await models.cleanup();
    await data.cleanup();
  }
});

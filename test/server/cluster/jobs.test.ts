/**
 * Cluster mode, jobs: real nodes (separate processes) on one real Redis (append-only, as
 * README asks) and one shared DATA_DIR. A job taken in by one node runs on another, its
 * progress reaches a socket on the first and its record answers on any node, a worker killed
 * mid-job hands its job to a node that is still alive, and an outage of Redis refuses new work
 * (503) without losing what was accepted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, openAsBlob } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobProgress } from '../../../server/contract/index.js';
import { connect, waitFor } from '../../helpers/app.js';
import { startNode, startRedis, type TestNode, type TestRedis } from '../../helpers/cluster.js';
import { bearer, createJob, getJob, uploadJob, waitEnded } from '../../helpers/jobs-http.js';
import { writeConvStackModel } from '../inference/conv-stack-model.js';
import { scratchModels } from '../inference/helpers.js';
import { fixtures, readVideo, tempDir } from '../jobs/helpers.js';

let redis: TestRedis;
let models: Awaited<ReturnType<typeof scratchModels>>;
let data: Awaited<ReturnType<typeof tempDir>>;
const nodes: TestNode[] = [];

before(async () => {
  redis = await startRedis({ appendOnly: true });
  models = await scratchModels();
  // Slow on purpose, so a run lasts long enough to kill its node mid-way.
  await writeConvStackModel(models.dir, 'slow', 32, 6);
  data = await tempDir('cyclestream-cluster-');
});

after(async () => {
  await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
  await redis?.close();
  await models?.cleanup();
  await data?.cleanup();
});

async function node(id: string, jobConcurrency: number, extra: Record<string, string> = {}): Promise<TestNode> {
  const n = await startNode({
    REDIS_URL: redis.url,
    NODE_ID: id,
    DATA_DIR: data.dir,
    MODELS_DIR: models.dir,
    SHOW_HIDDEN_MODELS: 'true',
    DEFAULT_MODEL: 'invert',
    PROVIDERS: 'cpu',
    PROCESSING_SHORT_SIDE_PX: '128',
    JOB_CONCURRENCY: String(jobConcurrency),
    JOB_STALLED_MS: '1000',
    ...extra,
  });
  nodes.push(n);
  return n;
}

test('a job taken in by node A runs on node B; a socket on A sees its progress; any node serves it', async (t) => {
  const a = await node('a', 0);
  const b = await node('b', 1);
  const health = await (await fetch(`${a.url}/api/health`)).json();
  assert.deepEqual(health.cluster, { nodeId: 'a', redis: 'up' });

  const socket = await connect(a.url);
  const progress: JobProgress[] = [];
  socket.on('job:progress', (p) => void progress.push(p));
  const clip = await fixtures.aacClip();
  const job = await createJob(a.url, await openAsBlob(clip), 'jump.mp4', { modelId: 'invert' });
  const watched = await socket.emitWithAck('job:watch', { id: job.id, token: job.token });
  assert.ok(watched.ok, JSON.stringify(watched));
  const done = await waitEnded(a.url, job.id, job.token);
  assert.equal(done.state, 'done', JSON.stringify(done.error));
  // The last progress event is sent once the final frame is in; it may trail the HTTP answer.
  assert.ok(await waitFor(() => progress.some((p) => p.id === job.id && p.framesDone === p.framesTotal), 5000), 'progress from B reached A');
  t.diagnostic(`${progress.length} progress events on A for a job B ran`);
  socket.close();

  // The token is checked against the shared records (in Redis, not in DATA_DIR): node B answers for a job A took in.
  assert.equal(existsSync(path.join(data.dir, 'jobs.sqlite')), false, 'no SQLite records in cluster mode');
  assert.equal((await getJob(b.url, job.id, job.token)).state, 'done');
  assert.equal((await fetch(`${b.url}/api/jobs/${job.id}`, { headers: bearer('not-the-token-000') })).status >= 400, true);
  const res = await fetch(`${a.url}/api/jobs/${job.id}/result`, { headers: bearer(job.token) });
  assert.equal(res.status, 200);
  const out = path.join(data.dir, 'downloaded.mp4');
  await writeFile(out, Buffer.from(await res.arrayBuffer()));
  const video = await readVideo(out);
  const input = await readVideo(clip);
  assert.equal(video.frames.length, input.frames.length);
  assert.ok(video.audio && video.audio.packets > 0, 'audio kept');
  await a.kill('SIGTERM');
  await b.kill('SIGTERM');
});

test('a worker killed with SIGKILL mid-job: the job completes on another node, whole', async (t) => {
  const a = await node('a2', 0);
  const b = await node('b2', 1);
  const socket = await connect(a.url);
  const clip = await fixtures.aacClip();
  const job = await createJob(a.url, await openAsBlob(clip), 'jump.mp4', { modelId: 'slow' });
  let midway = false;
  socket.on('job:progress', (p) => {
    if (p.id === job.id && p.framesDone >= 3 && p.framesDone < p.framesTotal) midway = true;
  });
  await socket.emitWithAck('job:watch', { id: job.id, token: job.token });
  assert.ok(await waitFor(() => midway, 60_000), 'the job started on B');
  await b.kill('SIGKILL');
  const c = await node('c2', 1);
  const done = await waitEnded(a.url, job.id, job.token, 120_000);
  assert.equal(done.state, 'done', JSON.stringify(done.error));
  assert.equal(done.attempts, 2, 'started once on B, once on C');
  const res = await fetch(`${c.url}/api/jobs/${job.id}/result`, { headers: bearer(job.token) });
  const out = path.join(data.dir, 'taken-over.mp4');
  await writeFile(out, Buffer.from(await res.arrayBuffer()));
  const video = await readVideo(out);
  assert.equal(video.frames.length, (await readVideo(clip)).frames.length);
  assert.ok(video.audio && video.audio.packets > 0, 'audio kept');
  t.diagnostic(`frames ${video.frames.length}, audio packets ${video.audio.packets}`);
  socket.close();
  await a.kill('SIGTERM');
  await c.kill('SIGTERM');
});

test('Redis stopped: 503 with Retry-After while it is down, then recovery, and nothing accepted is lost', async () => {
  const a = await node('a3', 1);
  const clip = await fixtures.aacClip();
  // One runs, one waits: both must end done after Redis restarts from its append-only file.
  const first = await createJob(a.url, await openAsBlob(clip), 'one.mp4', { modelId: 'slow' });
  const second = await createJob(a.url, await openAsBlob(clip), 'two.mp4', { modelId: 'invert' });
  await redis.stop();
  assert.ok(await waitFor(async () => (await fetch(`${a.url}/api/health`)).status === 503, 10_000), 'health says 503');
  const refused = await uploadJob(a.url, await openAsBlob(clip), 'three.mp4', { modelId: 'invert' });
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
  await redis.start();
  assert.ok(await waitFor(async () => (await fetch(`${a.url}/api/health`)).status === 200, 20_000), 'healthy again');
  for (const j of [first, second]) assert.equal((await waitEnded(a.url, j.id, j.token, 120_000)).state, 'done');
  const third = await createJob(a.url, await openAsBlob(clip), 'three.mp4', { modelId: 'invert' });
  assert.equal((await waitEnded(a.url, third.id, third.token)).state, 'done');
  await a.kill('SIGTERM');
});

test('queue limits hold across nodes, and a job taken in by one node is cancelled through another', async () => {
  // No workers anywhere: accepted jobs stay queued and hold their places.
  const limits = { MAX_QUEUED_JOBS_PER_CLIENT: '1', MAX_QUEUED_JOBS: '2' };
  const [a, b] = [await node('a4', 0, limits), await node('b4', 0, limits)];
  const clip = await openAsBlob(await fixtures.aacClip());
  const first = await createJob(a.url, clip, 'one.mp4', { modelId: 'invert' });
  const again = await uploadJob(b.url, clip, 'two.mp4', { modelId: 'invert' });
  assert.equal(again.status, 429, "B counts this client's job on A");
  assert.ok(Number(again.headers.get('retry-after')) > 0);
  assert.equal((await getJob(b.url, first.id, first.token)).state, 'queued');
  const gone = await fetch(`${b.url}/api/jobs/${first.id}`, { method: 'DELETE', headers: bearer(first.token) });
  assert.equal(gone.status, 204, 'a queued job is deleted through B');
  assert.equal((await fetch(`${a.url}/api/jobs/${first.id}`, { headers: bearer(first.token) })).status, 404, 'and A no longer has it');
  const second = await createJob(b.url, clip, 'two.mp4', { modelId: 'invert' });
  assert.equal((await getJob(a.url, second.id, second.token)).state, 'queued', 'the place was freed for the cluster');
  await a.kill('SIGTERM');
  await b.kill('SIGTERM');
});

/**
 * Class: jobs belong to whoever created them (issue 12, section 2).
 *
 * A job is reached only with its token: reading, both downloads, cancelling and its socket.io
 * events; the list shows only the jobs whose tokens are presented, or every job to an operator
 * token. A missing token is 401, a wrong one 404 (the same as no such job). Tokens are kept
 * only as SHA-256 hashes. DELETE of a queued job removes its files at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, openAsBlob, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { setFfmpegLogLevel } from '../../server/codec/index.js';
import type { JobCreated, JobInfo, JobProgress } from '../../server/contract/index.js';
import { connect, startTestApp, waitFor, type TestSocket } from '../helpers/app.js';
import { bearer, createJob, getJob, waitEnded } from '../helpers/jobs-http.js';
import { writeConvStackModel } from '../server/inference/conv-stack-model.js';
import { scratchModels } from '../server/inference/helpers.js';
import { CLIPS, tempDir } from '../server/jobs/helpers.js';

const OPERATOR = 'operator-token-for-tests';
const MAX_TOKENS = 4;

type Srv = Awaited<ReturnType<typeof startTestApp>>;
let srv: Srv;
let models: Awaited<ReturnType<typeof scratchModels>>;
let data: Awaited<ReturnType<typeof tempDir>>;
let a: JobCreated;
let b: JobCreated;

before(async () => {
  setFfmpegLogLevel('quiet');
  models = await scratchModels();
  await writeConvStackModel(models.dir, 'slow', 32, 6);
  data = await tempDir('cyclestream-sec-owner-');
  srv = await startTestApp({
    modelsDir: models.dir,
    dataDir: data.dir,
    providers: ['cpu'],
    processingShortSidePx: 128,
    operatorTokens: [OPERATOR],
    maxJobTokensPerRequest: MAX_TOKENS,
    maxQueuedJobsPerClient: 10,
  });
  a = await createJob(srv.url, await openAsBlob(CLIPS.mpeg4), 'a.mp4', { modelId: 'invert' });
  b = await createJob(srv.url, await openAsBlob(CLIPS.mpeg4), 'b.mp4', { modelId: 'invert' });
  await waitEnded(srv.url, a.id, a.token);
  await waitEnded(srv.url, b.id, b.token);
});

after(async () => {
  await srv?.close();
  await models?.cleanup();
  await data?.cleanup();
});

async function status(url: string, init: RequestInit = {}): Promise<{ status: number; code?: string; auth: string | null }> {
  const res = await fetch(url, init);
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  const body = type.includes('json') && text ? (JSON.parse(text) as { error?: { code: string } }) : {};
  return { status: res.status, code: body.error?.code, auth: res.headers.get('www-authenticate') };
}

test('reading, downloading and cancelling a job need its token: none 401, another job\'s or a made-up one 404', async () => {
  const routes: [string, string][] = [
    ['GET', `/api/jobs/${a.id}`],
    ['GET', `/api/jobs/${a.id}/result`],
    ['GET', `/api/jobs/${a.id}/input`],
    ['HEAD', `/api/jobs/${a.id}/result`],
    ['DELETE', `/api/jobs/${a.id}`],
  ];
  for (const [method, route] of routes) {
    const none = await status(`${srv.url}${route}`, { method });
    assert.equal(none.status, 401, `${method} ${route} without a token`);
    if (method !== 'HEAD') assert.equal(none.code, 'UNAUTHORIZED');
    assert.equal(none.auth, 'Bearer');
    assert.equal((await status(`${srv.url}${route}`, { method, headers: { authorization: `Basic ${btoa('x:y')}` } })).status, 401, 'not a bearer token');
    for (const wrong of [b.token, 'x'.repeat(43), a.token.slice(0, -1), `${a.token}x`]) {
      const res = await status(`${srv.url}${route}`, { method, headers: bearer(wrong) });
      assert.equal(res.status, 404, `${method} ${route} with a wrong token`);
    }
  }
  assert.equal((await getJob(srv.url, a.id, a.token)).state, 'done', 'the refused DELETEs left the job alone');
  for (const sub of ['result', 'input']) {
    assert.equal((await status(`${srv.url}/api/jobs/${a.id}/${sub}`, { headers: bearer(a.token) })).status, 200);
    // Download links and <video src> carry it in the query.
    assert.equal((await status(`${srv.url}/api/jobs/${a.id}/${sub}?token=${a.token}`)).status, 200);
    assert.equal((await status(`${srv.url}/api/jobs/${a.id}/${sub}?token=${b.token}`)).status, 404);
  }
  // The JSON routes take the header only, so tokens stay out of URLs that need none.
  assert.equal((await status(`${srv.url}/api/jobs/${a.id}?token=${a.token}`)).status, 401);
  assert.equal((await status(`${srv.url}/api/jobs/${a.id}`, { headers: bearer(OPERATOR) })).status, 200, 'an operator sees any job');
});

test('the list shows the jobs whose tokens are presented, or every job to an operator token', async () => {
  const list = async (headers: Record<string, string>) => {
    const res = await fetch(`${srv.url}/api/jobs`, { headers });
    assert.equal(res.status, 200);
    return ((await res.json()) as JobInfo[]).map((j) => j.id);
  };
  assert.deepEqual(await list({}), []);
  assert.deepEqual(await list({ 'x-job-tokens': 'not-a-token' }), []);
  assert.deepEqual(await list({ 'x-job-tokens': a.token }), [a.id]);
  assert.deepEqual(await list({ 'x-job-tokens': `${a.token}, ${b.token}` }), [b.id, a.id]);
  assert.deepEqual(await list(bearer(a.token)), [a.id]);
  const all = await list(bearer(OPERATOR));
  assert.ok(all.includes(a.id) && all.includes(b.id));
  const tooMany = await fetch(`${srv.url}/api/jobs`, { headers: { 'x-job-tokens': Array(MAX_TOKENS + 1).fill(a.token).join(',') } });
  assert.equal(tooMany.status, 400);
  assert.match(((await tooMany.json()) as { error: { message: string } }).error.message, new RegExp(`at most ${MAX_TOKENS} job tokens`));
});

test('job events reach only the sockets that watch the job with its token (or an operator token)', async () => {
  const sockets: TestSocket[] = [];
  const heard = new Map<string, (JobInfo | JobProgress)[]>();
  const open = async (name: string) => {
    const s = await connect(srv.url);
    sockets.push(s);
    heard.set(name, []);
    s.on('job:update', (j) => void heard.get(name)!.push(j));
    s.on('job:progress', (p) => void heard.get(name)!.push(p));
    return s;
  };
  try {
    const bystander = await open('bystander');
    const wrong = await open('wrong');
    const owner = await open('owner');
    const operator = await open('operator');
    void bystander;
    const c = await createJob(srv.url, await openAsBlob(CLIPS.h264), 'c.mp4', { modelId: 'slow' });
    const refused = await wrong.emitWithAck('job:watch', { id: c.id, token: b.token });
    assert.deepEqual(refused.ok ? null : refused.error.code, 'JOB_NOT_FOUND');
    const bad = await wrong.emitWithAck('job:watch', { id: 'not-a-uuid', token: c.token } as never);
    assert.deepEqual(bad.ok ? null : bad.error.code, 'BAD_REQUEST');
    const mine = await owner.emitWithAck('job:watch', { id: c.id, token: c.token });
    assert.ok(mine.ok && mine.job.id === c.id, JSON.stringify(mine));
    assert.ok((await operator.emitWithAck('job:watch', { id: c.id, token: OPERATOR })).ok);

    assert.ok(await waitFor(() => heard.get('owner')!.some((e) => e.framesDone >= 3), 60_000, 50), 'the owner hears progress');
    await srv.app.jobs.cancel(c.id);
    assert.ok(await waitFor(() => heard.get('owner')!.some((e) => e.state === 'cancelled'), 10_000));
    assert.ok(heard.get('operator')!.some((e) => e.id === c.id && e.state === 'cancelled'));
    assert.deepEqual(heard.get('bystander'), [], 'a socket that did not watch heard nothing');
    assert.deepEqual(heard.get('wrong'), [], 'a wrong token heard nothing');
    assert.ok(heard.get('owner')!.every((e) => e.id === c.id), 'nothing about other jobs');

    // A socket watches a bounded number of jobs (leaving a room gives its place back).
    assert.ok((await owner.emitWithAck('job:unwatch', { id: c.id })).ok);
    const other = [a, b];
    for (let i = 0; i < MAX_TOKENS - 1; i++) other.push(await createJob(srv.url, await openAsBlob(CLIPS.mpeg4), `n${i}.mp4`, { modelId: 'invert' }));
    const acks = [];
    for (const j of other) acks.push(await owner.emitWithAck('job:watch', { id: j.id, token: j.token }));
    assert.deepEqual(acks.map((x) => (x.ok ? 'ok' : x.error.code)).slice(-2), ['ok', 'RATE_LIMITED'], `the ${MAX_TOKENS + 1}th watch is refused`);
    for (const j of other.slice(2)) await waitEnded(srv.url, j.id, j.token);
  } finally {
    for (const s of sockets) s.disconnect();
  }
});

test('tokens are stored only as SHA-256 hashes', () => {
  const file = path.join(data.dir, 'jobs.sqlite');
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare<[], { id: string; token_hash: string }>('SELECT id, token_hash FROM jobs').all();
    const byId = new Map(rows.map((r) => [r.id, r.token_hash]));
    for (const j of [a, b]) assert.equal(byId.get(j.id), createHash('sha256').update(j.token).digest('hex'));
  } finally {
    db.close();
  }
  const bytes = Buffer.concat([file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f)));
  for (const j of [a, b]) assert.equal(bytes.includes(j.token), false, 'the token itself is nowhere in the database');
});

test('DELETE of a queued job removes it and its files at once; of a running one cancels it', async () => {
  const running = await createJob(srv.url, await openAsBlob(CLIPS.cows), 'long.mp4', { modelId: 'slow' });
  const queued = await createJob(srv.url, await openAsBlob(CLIPS.mpeg4), 'waiting.mp4', { modelId: 'invert' });
  assert.ok(await waitFor(async () => (await getJob(srv.url, running.id, running.token)).state === 'running', 30_000));
  assert.equal((await getJob(srv.url, queued.id, queued.token)).state, 'queued');
  assert.ok(readdirSync(path.join(data.dir, 'jobs', queued.id)).length > 0);
  const del = await fetch(`${srv.url}/api/jobs/${queued.id}`, { method: 'DELETE', headers: bearer(queued.token) });
  assert.equal(del.status, 204);
  assert.equal(existsSync(path.join(data.dir, 'jobs', queued.id)), false, 'its folder is gone now, not at its time to live');
  assert.equal((await status(`${srv.url}/api/jobs/${queued.id}`, { headers: bearer(queued.token) })).status, 404);
  const cancel = await fetch(`${srv.url}/api/jobs/${running.id}`, { method: 'DELETE', headers: bearer(running.token) });
  assert.equal(cancel.status, 200);
  assert.equal(((await cancel.json()) as JobInfo).state, 'cancelled');
});

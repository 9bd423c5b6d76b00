/**
 * The job API over real HTTP: upload, progress (HTTP and socket.io), download with ranges,
 * list and cancel. Every request about a job carries its token
 * (test/security/job-ownership.test.ts covers the refusals).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, openAsBlob, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { JobInfo } from '../../../server/contract/index.js';
import { waitFor } from '../../helpers/app.js';
import { bearer, getJob, uploadJob as upload, waitEnded } from '../../helpers/jobs-http.js';
import { startApiServers, type ApiServers } from './api-helpers.js';
import { CLIPS } from './helpers.js';

let api: ApiServers;

before(async () => {
  api = await startApiServers();
});

after(async () => {
  await api?.close();
});

test('upload, progress over HTTP and socket.io, download with ranges, list', async (t) => {
  const { srv, socket, progress, updates } = api;
  const res = await upload(srv.url, await openAsBlob(CLIPS.h264), 'horse jump.mp4', { modelId: 'invert', smoothing: '0.25' });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const job = res.body as JobInfo;
  const token = res.body.token as string;
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
  assert.equal(res.headers.get('location'), `/api/jobs/${job.id}`);
  // Events come to the sockets that watch the job with its token; the ack carries the job as it is now.
  const watched = await socket.emitWithAck('job:watch', { id: job.id, token });
  assert.ok(watched.ok, JSON.stringify(watched));
  assert.equal(job.state, 'queued');
  assert.equal(job.framesTotal, 50);
  assert.equal(job.smoothing, 0.25);
  assert.deepEqual([job.source.videoCodec, job.source.width, job.source.height, job.source.frames], ['h264', 854, 480, 50]);

  const done = await waitEnded(srv.url, job.id, token);
  assert.equal(done.state, 'done', JSON.stringify(done.error));
  assert.equal(done.framesDone, 50);
  assert.equal(done.attempts, 1);
  assert.ok(done.resultUrl && done.resultBytes && done.resultBytes > 10_000);

  const mine = progress.filter((p) => p.id === job.id);
  t.diagnostic(`${mine.length} progress events; last ${JSON.stringify(mine.at(-1))}`);
  assert.ok(mine.length >= 2, 'progress pushed more than once');
  assert.ok(mine.every((p, i) => i === 0 || p.framesDone >= mine[i - 1]!.framesDone), 'progress never goes back');
  assert.equal(mine.at(-1)!.framesDone, 50);
  assert.ok(mine.some((p) => p.fps > 0 && p.etaS !== null), 'fps and ETA reported');
  const states = [watched.ok ? watched.job.state : 'none', ...updates.filter((u) => u.id === job.id).map((u) => u.state)];
  assert.equal(states.at(-1), 'done');
  assert.deepEqual(states, ['queued', 'running', 'done'].filter((s) => states.includes(s)), `states in order: ${states}`);

  const auth = bearer(token);
  const full = await fetch(`${srv.url}${done.resultUrl}`, { headers: auth });
  assert.equal(full.status, 200);
  assert.equal(full.headers.get('content-type'), 'video/mp4');
  assert.equal(full.headers.get('accept-ranges'), 'bytes');
  const bytes = Buffer.from(await full.arrayBuffer());
  assert.equal(bytes.length, done.resultBytes);
  const part = await fetch(`${srv.url}${done.resultUrl}`, { headers: { ...auth, range: 'bytes=100-1099' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-1099/${bytes.length}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(100, 1100));
  const tail = await fetch(`${srv.url}${done.resultUrl}`, { headers: { ...auth, range: 'bytes=-10' } });
  assert.deepEqual(Buffer.from(await tail.arrayBuffer()), bytes.subarray(bytes.length - 10));
  const beyond = await fetch(`${srv.url}${done.resultUrl}`, { headers: { ...auth, range: `bytes=${bytes.length}-` } });
  assert.equal(beyond.status, 416);
  await beyond.arrayBuffer();
  // A download link (no headers possible) carries the token in the query.
  const download = await fetch(`${srv.url}${done.resultUrl}?download=1&token=${token}`, { method: 'HEAD' });
  assert.equal(download.status, 200);
  assert.match(download.headers.get('content-disposition') ?? '', /^attachment; filename="horse jump-invert\.mp4"/);

  const original = await fetch(`${srv.url}${done.inputUrl}?token=${token}`);
  assert.equal(original.headers.get('content-type'), 'video/mp4', 'named by the detected container');
  assert.deepEqual(Buffer.from(await original.arrayBuffer()), readFileSync(CLIPS.h264));

  const list = (await (await fetch(`${srv.url}/api/jobs`, { headers: { 'x-job-tokens': token } })).json()) as JobInfo[];
  assert.deepEqual(list.map((j) => [j.id, j.state]), [[job.id, 'done']]);
});

test('cancel during a run: stops, keeps no partial output; DELETE again removes the job', async () => {
  const { srv, socket, updates, data } = api;
  const res = await upload(srv.url, await openAsBlob(CLIPS.cows), 'cancel-me.mp4', { modelId: 'slow' });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = (res.body as JobInfo).id;
  const auth = bearer(res.body.token);
  assert.ok((await socket.emitWithAck('job:watch', { id, token: res.body.token })).ok);
  assert.ok(await waitFor(async () => (await getJob(srv.url, id, res.body.token)).framesDone >= 2, 60_000, 50), 'the run got going');
  const del = await fetch(`${srv.url}/api/jobs/${id}`, { method: 'DELETE', headers: auth });
  assert.equal(del.status, 200);
  const cancelled = (await del.json()) as JobInfo;
  assert.equal(cancelled.state, 'cancelled');
  assert.ok(cancelled.framesDone < 104, 'stopped before the end');
  assert.deepEqual(readdirSync(path.join(data.dir, 'jobs', id)).sort(), ['input.mp4']);
  const result = await fetch(`${srv.url}/api/jobs/${id}/result`, { headers: auth });
  assert.equal(result.status, 409);
  await result.arrayBuffer();
  assert.deepEqual(srv.app.jobs.runningIds(), []);

  const gone = await fetch(`${srv.url}/api/jobs/${id}`, { method: 'DELETE', headers: auth });
  assert.equal(gone.status, 204);
  assert.equal((await fetch(`${srv.url}/api/jobs/${id}`, { headers: auth })).status, 404);
  assert.equal(existsSync(path.join(data.dir, 'jobs', id)), false, 'files removed with the job');
  assert.ok(updates.some((u) => u.id === id && u.state === 'deleted'));
});

/**
 * The job API over real HTTP: upload, progress (HTTP and socket.io), download with ranges,
 * list, cancel, images, and every kind of bad input answered with a 4xx that names the
 * problem while the server carries on and keeps no trace of the refused upload. Every request
 * about a job carries its token (test/security/job-ownership.test.ts covers the refusals).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, openAsBlob, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import sharp from 'sharp';
import { setFfmpegLogLevel } from '../../../server/codec/index.js';
import type { JobInfo, JobProgress } from '../../../server/contract/index.js';
import { connect, startTestApp, waitFor, type TestSocket } from '../../helpers/app.js';
import { bearer, getJob, uploadJob as upload, waitEnded } from '../../helpers/jobs-http.js';
import { SHARED_DIR } from '../../helpers/paths.js';
import { scratchModels } from '../inference/helpers.js';
import { writeConvStackModel } from '../inference/conv-stack-model.js';
import { CLIPS, fixtures, invertError, meanAbsDiff, tempDir } from './helpers.js';

type Srv = Awaited<ReturnType<typeof startTestApp>>;

let srv: Srv;
let strict: Srv;
/** 256x256 frames at most, 0.5 MB uploads at most. */
let models: Awaited<ReturnType<typeof scratchModels>>;
let data: Awaited<ReturnType<typeof tempDir>>;
let strictData: Awaited<ReturnType<typeof tempDir>>;
let socket: TestSocket;
const updates: JobInfo[] = [];
const progress: JobProgress[] = [];

before(async () => {
  setFfmpegLogLevel('error');
  models = await scratchModels();
  // Slow on purpose (a 6-layer, 32-channel conv stack), so a run lasts long enough to cancel.
  await writeConvStackModel(models.dir, 'slow', 32, 6);
  data = await tempDir('cyclestream-api-');
  strictData = await tempDir('cyclestream-api-strict-');
  srv = await startTestApp({ modelsDir: models.dir, dataDir: data.dir, providers: ['cpu'], processingShortSidePx: 128 });
  strict = await startTestApp({
    modelsDir: models.dir,
    dataDir: strictData.dir,
    providers: ['cpu'],
    maxVideoWidthPx: 256,
    maxVideoHeightPx: 256,
    maxUploadMb: 0.5,
  });
  socket = await connect(srv.url);
  socket.on('job:update', (j) => void updates.push(j));
  socket.on('job:progress', (p) => void progress.push(p));
});

after(async () => {
  socket?.disconnect();
  await srv?.close();
  await strict?.close();
  await models?.cleanup();
  await data?.cleanup();
  await strictData?.cleanup();
});

function leftovers(dir: string): string[] {
  return [...readdirSync(path.join(dir, 'uploads')).map((f) => `uploads/${f}`), ...readdirSync(path.join(dir, 'jobs')).map((f) => `jobs/${f}`)];
}

test('upload, progress over HTTP and socket.io, download with ranges, list', async (t) => {
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

test('bad uploads: a 4xx naming the problem, nothing kept, the server carries on', async (t) => {
  const truncated = readFileSync(CLIPS.cows).subarray(0, 600_000);
  const cases: { what: string; blob: Blob; name: string; fields?: Record<string, string>; status: number; code: string; match: RegExp }[] = [
    { what: 'not a video', blob: new Blob(['just some text, not a video at all\n'.repeat(20)]), name: 'notes.mp4', status: 400, code: 'MEDIA_INVALID', match: /not a video/ },
    { what: 'zero-length file', blob: new Blob([]), name: 'empty.mp4', status: 400, code: 'MEDIA_INVALID', match: /empty/ },
    { what: 'truncated mp4', blob: new Blob([truncated]), name: 'cut.mp4', status: 400, code: 'MEDIA_INVALID', match: /truncated: 27 of 104/ },
    { what: 'no video stream', blob: await openAsBlob(await fixtures.audioOnly()), name: 'tone.m4a', status: 400, code: 'NO_VIDEO', match: /no video stream/ },
    { what: 'undecodable codec (AVS2)', blob: await openAsBlob(await fixtures.undecodable()), name: 'avs2.mkv', status: 400, code: 'UNSUPPORTED_CODEC', match: /avs2 cannot be decoded/ },
    { what: 'unknown model', blob: await openAsBlob(CLIPS.mpeg4), name: 'a.mp4', fields: { modelId: 'no-such-model' }, status: 404, code: 'MODEL_NOT_FOUND', match: /no-such-model/ },
    { what: 'invalid model id', blob: await openAsBlob(CLIPS.mpeg4), name: 'a.mp4', fields: { modelId: '../etc' }, status: 400, code: 'MODEL_ID_INVALID', match: /model/ },
    { what: 'smoothing out of range', blob: await openAsBlob(CLIPS.mpeg4), name: 'a.mp4', fields: { modelId: 'invert', smoothing: '3' }, status: 400, code: 'BAD_REQUEST', match: /smoothing/ },
    { what: 'bad size', blob: await openAsBlob(CLIPS.mpeg4), name: 'a.mp4', fields: { modelId: 'invert', size: 'big' }, status: 400, code: 'BAD_REQUEST', match: /size/ },
  ];
  for (const c of cases) {
    const res = await upload(srv.url, c.blob, c.name, c.fields ?? { modelId: 'invert' });
    t.diagnostic(`${c.what}: ${res.status} ${res.body?.error?.message}`);
    assert.equal(res.status, c.status, `${c.what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, c.code, c.what);
    assert.match(res.body.error.message, c.match, c.what);
  }

  const noFile = new FormData();
  noFile.set('modelId', 'invert');
  const r1 = await fetch(`${srv.url}/api/jobs`, { method: 'POST', body: noFile });
  assert.equal(r1.status, 400);
  assert.match(((await r1.json()) as any).error.message, /no "file"/);
  const r2 = await fetch(`${srv.url}/api/jobs`, { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } });
  assert.equal(r2.status, 415);
  await r2.arrayBuffer();

  // Dimensions above the limit (256x256 on this server, either way round; the clip is 288x216).
  const big = await upload(strict.url, await openAsBlob(CLIPS.mpeg4), 'big.mp4', { modelId: 'invert' });
  assert.equal(big.status, 413);
  assert.equal(big.body.error.code, 'FRAME_TOO_LARGE');
  assert.match(big.body.error.message, /288x216; the limit is 256x256/);

  const list = await srv.app.jobs.list();
  assert.ok(list.every((j) => j.inputName === 'horse jump.mp4' || j.inputName.startsWith('cancel')), `no refused upload became a job: ${list.map((j) => j.inputName)}`);
  assert.deepEqual(leftovers(strictData.dir), []);
  assert.ok(leftovers(data.dir).every((f) => f.startsWith('jobs/')), `stray uploads: ${leftovers(data.dir)}`);
  assert.equal((await fetch(`${srv.url}/api/health`)).status, 200);
});

/** A multipart POST by hand, so the test controls chunking and survives the server cutting it off. */
function rawPost(url: string, file: Buffer, opts: { declareLength: boolean }): Promise<{ status?: number; text?: string; error?: string }> {
  const boundary = 'cyclestream-test-boundary';
  const head = Buffer.from(
    `--${boundary}\r\ncontent-disposition: form-data; name="modelId"\r\n\r\ninvert\r\n` +
      `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.mp4"\r\ncontent-type: video/mp4\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const u = new URL(url);
  const headers: Record<string, string | number> = { 'content-type': `multipart/form-data; boundary=${boundary}` };
  if (opts.declareLength) headers['content-length'] = head.length + file.length + tail.length;
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: { status?: number; text?: string; error?: string }) => {
      if (!settled) resolve(v);
      settled = true;
    };
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => done({ status: res.statusCode, text }));
      res.on('error', (e) => done({ status: res.statusCode, error: e.message }));
    });
    req.on('error', (e) => done({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.write(head);
    let at = 0;
    const pump = () => {
      while (at < file.length && !req.destroyed) {
        const chunk = file.subarray(at, at + 64 * 1024);
        at += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!req.destroyed) req.end(tail);
    };
    pump();
  });
}

test('upload over the size cap: cut off with 413 (or a reset), partial file removed', async (t) => {
  const file = readFileSync(CLIPS.cows); // 2 MB against a 0.5 MB cap
  // Chunked (no content-length): the server has to stop it mid-stream.
  for (const declareLength of [false, true]) {
    const outcome = await rawPost(`${strict.url}/api/jobs`, file, { declareLength });
    t.diagnostic(`${declareLength ? 'declared length' : 'chunked'}: ${outcome.status ?? outcome.error}`);
    if (outcome.status !== undefined) {
      assert.equal(outcome.status, 413, JSON.stringify(outcome));
      assert.match(outcome.text ?? '', /UPLOAD_TOO_LARGE/);
    } else {
      assert.match(outcome.error ?? '', /ECONNRESET|EPIPE|socket hang up/);
    }
    await waitFor(() => leftovers(strictData.dir).length === 0, 2000);
    assert.deepEqual(leftovers(strictData.dir), []);
  }
  assert.equal((await fetch(`${strict.url}/api/health`)).status, 200, 'the server still answers');
});

test('cancel during a run: stops, keeps no partial output; DELETE again removes the job', async () => {
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

test('images: JPEG, PNG (with transparency) and WebP come back inverted at their own size', async (t) => {
  const photo = path.join(SHARED_DIR, 'datasets', 'horse2zebra', 'testA', 'n02381460_1000.jpg');
  const base = sharp(photo).resize(301, 203);
  const inputs = {
    jpeg: await base.clone().jpeg({ quality: 95 }).toBuffer(),
    png: await base.clone().ensureAlpha(0.5).png().toBuffer(),
    webp: await base.clone().webp({ quality: 95 }).toBuffer(),
  };
  for (const [format, buf] of Object.entries(inputs)) {
    const form = new FormData();
    form.set('modelId', 'invert');
    form.set('file', new Blob([buf]), `photo.${format}`);
    const res = await fetch(`${srv.url}/api/translate/image`, { method: 'POST', body: form });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('content-type'), `image/${format}`);
    const out = Buffer.from(await res.arrayBuffer());
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], [format, 301, 203]);
    assert.equal(meta.hasAlpha, format === 'png');
    const a = await sharp(buf).removeAlpha().resize(60, 40, { fit: 'fill' }).raw().toBuffer();
    const b = await sharp(out).removeAlpha().resize(60, 40, { fit: 'fill' }).raw().toBuffer();
    const err = invertError(a, b);
    t.diagnostic(`${format}: invert error ${err.toFixed(2)}, vs input ${meanAbsDiff(a, b).toFixed(1)}`);
    // 128 px processing side, scaled back up: soft, but plainly the inverse.
    assert.ok(err < 12, `${format}: ${err}`);
  }
  const raw = await fetch(`${srv.url}/api/translate/image?modelId=invert`, { method: 'POST', body: inputs.jpeg, headers: { 'content-type': 'image/jpeg' } });
  assert.equal(raw.status, 200);
  await raw.arrayBuffer();

  const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } }).gif().toBuffer();
  const bad: [Blob, string, number, string][] = [
    [new Blob(['not an image']), 'x.png', 400, 'MEDIA_INVALID'],
    [new Blob([gif]), 'x.gif', 415, 'MEDIA_UNSUPPORTED'],
    [new Blob([]), 'x.png', 400, 'MEDIA_INVALID'],
  ];
  for (const [blob, name, status, code] of bad) {
    const form = new FormData();
    form.set('modelId', 'invert');
    form.set('file', blob, name);
    const res = await fetch(`${srv.url}/api/translate/image`, { method: 'POST', body: form });
    const body = (await res.json()) as any;
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(body.error.code, code);
  }
  const form = new FormData();
  form.set('modelId', 'nope');
  form.set('file', new Blob([inputs.png]), 'p.png');
  assert.equal((await fetch(`${srv.url}/api/translate/image`, { method: 'POST', body: form })).status, 404);
});

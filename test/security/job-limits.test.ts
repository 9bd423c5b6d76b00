/**
 * Class: limits on what an anonymous client can make the job queue do (issue 12, section 3,
 * "Jobs").
 *
 * Queue places are capped globally (503) and per client address (429), both with Retry-After,
 * and checked before a byte of the upload is stored; so are the form fields (model, smoothing,
 * size), which must come before the file. Duration and frame count are capped from the
 * container header (a header without a frame count is stopped at the cap while its packets are
 * counted, never decoded). Every refusal over a limit is one log line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openAsBlob, readdirSync } from 'node:fs';
import path from 'node:path';
import { setFfmpegLogLevel } from '../../server/codec/index.js';
import { startTestApp } from '../helpers/app.js';
import { bearer, createJob, uploadJob } from '../helpers/jobs-http.js';
import { captureLogger, scratchModels, type LogLine } from '../server/inference/helpers.js';
import { writeConvStackModel } from '../server/inference/conv-stack-model.js';
import { CLIPS, tempDir } from '../server/jobs/helpers.js';
import { heldUpload } from './raw-upload.js';

type Srv = Awaited<ReturnType<typeof startTestApp>>;
let queue: Srv;
let short: Srv;
let models: Awaited<ReturnType<typeof scratchModels>>;
let queueData: Awaited<ReturnType<typeof tempDir>>;
let shortData: Awaited<ReturnType<typeof tempDir>>;
let queueLog: LogLine[];
let shortLog: LogLine[];

before(async () => {
  setFfmpegLogLevel('quiet');
  models = await scratchModels();
  await writeConvStackModel(models.dir, 'slow', 32, 6);
  queueData = await tempDir('cyclestream-sec-limits-');
  shortData = await tempDir('cyclestream-sec-limits-');
  const q = captureLogger();
  const s = captureLogger();
  queueLog = q.lines;
  shortLog = s.lines;
  const base = { modelsDir: models.dir, providers: ['cpu' as const], processingShortSidePx: 128, jobConcurrency: 1 };
  queue = await startTestApp({ ...base, dataDir: queueData.dir, maxQueuedJobs: 3, maxQueuedJobsPerClient: 2 }, {}, q.logger);
  short = await startTestApp({ ...base, dataDir: shortData.dir, maxJobDurationS: 3, maxJobFrames: 40 }, {}, s.logger);
});

after(async () => {
  await queue?.close();
  await short?.close();
  await models?.cleanup();
  await queueData?.cleanup();
  await shortData?.cleanup();
});

const uploads = (dir: string) => readdirSync(path.join(dir, 'uploads'));
const refusals = (lines: LogLine[], code: string) => lines.filter((l) => l.code === code && l.level === 40);

test('queue places: per client 429, overall 503, both with Retry-After, refused before the upload is stored', async () => {
  const first = await createJob(queue.url, await openAsBlob(CLIPS.cows), 'one.mp4', { modelId: 'slow' });
  const second = await createJob(queue.url, await openAsBlob(CLIPS.mpeg4), 'two.mp4', { modelId: 'invert' });

  const mine = await heldUpload(queue.url, { fields: { modelId: 'invert' }, fileBytes: 2_000_000 });
  assert.equal(mine.status, 429, JSON.stringify(mine));
  assert.equal(mine.body.error.code, 'RATE_LIMITED');
  assert.match(mine.body.error.message, /2 job\(s\) queued or running/);
  assert.ok(Number(mine.headers['retry-after']) > 0, 'Retry-After');
  assert.ok(mine.answeredEarly, 'answered while the upload was still held back');
  assert.deepEqual(uploads(queueData.dir), []);
  assert.equal(refusals(queueLog, 'RATE_LIMITED').length, 1, 'one log line');

  // Another address still has its own places, until the queue as a whole is full.
  const other = await heldUpload(queue.url, { fields: { modelId: 'invert' }, fileBytes: 10, localAddress: '127.0.0.2', fallbackMs: 0 });
  assert.equal(other.status, 400, 'a place was free: the (fake) file itself is what got refused');
  const third = await uploadJobFrom(queue.url, '127.0.0.2');
  assert.equal(third.status, 201, JSON.stringify(third.body));
  const full = await heldUpload(queue.url, { fields: { modelId: 'invert' }, fileBytes: 2_000_000, localAddress: '127.0.0.3' });
  assert.equal(full.status, 503, JSON.stringify(full));
  assert.equal(full.body.error.code, 'SERVER_BUSY');
  assert.match(full.body.error.message, /job queue is full/);
  assert.ok(Number(full.headers['retry-after']) > 0);
  assert.ok(full.answeredEarly);
  assert.equal(refusals(queueLog, 'SERVER_BUSY').length, 1);

  for (const j of [first, second, third.body]) await fetch(`${queue.url}/api/jobs/${j.id}`, { method: 'DELETE', headers: bearer(j.token) });
  const again = await createJob(queue.url, await openAsBlob(CLIPS.mpeg4), 'later.mp4', { modelId: 'invert' });
  assert.ok(again.id, 'places come back when jobs end');
  await fetch(`${queue.url}/api/jobs/${again.id}`, { method: 'DELETE', headers: bearer(again.token) });
});

/** A real clip from another loopback address (the server tells clients apart by address). */
async function uploadJobFrom(url: string, localAddress: string): Promise<{ status: number | null; body: any }> {
  const { request } = await import('node:http');
  const form = new FormData();
  form.set('modelId', 'invert');
  form.set('file', await openAsBlob(CLIPS.mpeg4), 'other.mp4');
  const encoded = new Response(form);
  const body = Buffer.from(await encoded.arrayBuffer());
  const u = new URL('/api/jobs', url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress, headers: { 'content-type': encoded.headers.get('content-type')! } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? null, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('form fields are checked before the file is stored, and must come before it', async () => {
  const cases: [string, Record<string, string>, number, string, RegExp][] = [
    ['unknown model', { modelId: 'no-such-model' }, 404, 'MODEL_NOT_FOUND', /no-such-model/],
    ['bad model id', { modelId: '../../etc/passwd' }, 400, 'MODEL_ID_INVALID', /invalid model id/],
    ['smoothing', { modelId: 'invert', smoothing: '7' }, 400, 'BAD_REQUEST', /smoothing/],
    ['size', { modelId: 'invert', size: '99999x' }, 400, 'BAD_REQUEST', /output width 99999 is out of range/],
  ];
  for (const [what, fields, status, code, message] of cases) {
    const res = await heldUpload(short.url, { fields, fileBytes: 2_000_000 });
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, code, what);
    assert.match(res.body.error.message, message, what);
    assert.ok(res.answeredEarly, `${what}: refused before the file was sent`);
    assert.deepEqual(uploads(shortData.dir), [], what);
  }
  const late = await heldUpload(short.url, { fields: { modelId: 'invert' }, fieldsAfterFile: true, fileBytes: 2_000_000 });
  assert.equal(late.status, 400);
  assert.match(late.body.error.message, /must come before the file part/);
  assert.ok(late.answeredEarly);
  // The raw image route takes its model from the query, checked before the body is read.
  const image = await heldUpload(short.url, { fields: {}, fileBytes: 2_000_000, path: '/api/translate/image?modelId=nope' });
  assert.equal(image.status, 404);
  assert.ok(image.answeredEarly);
});

test('duration and frame count are capped from the container header (413, one log line each)', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['4.3 s of H.264 (limit 3 s)', CLIPS.cows, /lasts 4\.\d s; the limit is 3 s/],
    ['50 frames in the MP4 header (limit 40)', CLIPS.h264, /has 50 frames; the limit is 40/],
    ['no frame count in the WebM header: stopped at the cap', CLIPS.vp9, /has more than 40 frames/],
  ];
  for (const [what, clip, message] of cases) {
    const before = refusals(shortLog, 'VIDEO_TOO_LONG').length;
    const res = await uploadJob(short.url, await openAsBlob(clip), path.basename(clip), { modelId: 'invert' });
    t.diagnostic(`${what}: ${res.status} ${res.body.error?.message}`);
    assert.equal(res.status, 413, what);
    assert.equal(res.body.error.code, 'VIDEO_TOO_LONG');
    assert.match(res.body.error.message, message, what);
    assert.equal(refusals(shortLog, 'VIDEO_TOO_LONG').length, before + 1, `${what}: one log line`);
  }
  assert.deepEqual(await short.app.jobs.list(), []);
  assert.deepEqual(uploads(shortData.dir), []);
});

/**
 * Class: limits on what one image request can cost (issue 12, section 3, "Images").
 *
 * Only JPEG, PNG and WebP reach sharp, told by their bytes (SVG, whose references libvips could
 * follow, never does); pixel count and aspect ratio are refused from the header before any
 * decoding (a PNG claiming 30000x30000 costs nothing); whatever the aspect ratio, the model sees
 * a picture of bounded size (a 100000x100 strip included); and at most N translations run at
 * once, N more wait, the rest get 503 with Retry-After, sharing warm generators.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import path from 'node:path';
import sharp from 'sharp';
import { createInferenceHost } from '../../server/inference/index.js';
import { translateImage } from '../../server/jobs/index.js';
import type { HealthResponse } from '../../server/contract/index.js';
import { startTestApp } from '../helpers/app.js';
import { FIXTURE_MODELS_DIR } from '../helpers/paths.js';
import { captureLogger, scratchModels, type LogLine } from '../server/inference/helpers.js';
import { writeConvStackModel } from '../server/inference/conv-stack-model.js';
import { tempDir } from '../server/jobs/helpers.js';
import { makeFifo, watchFifo } from './fifo-watch.js';

type Srv = Awaited<ReturnType<typeof startTestApp>>;
let srv: Srv;
let models: Awaited<ReturnType<typeof scratchModels>>;
let work: Awaited<ReturnType<typeof tempDir>>;
let log: LogLine[];

before(async () => {
  models = await scratchModels();
  await writeConvStackModel(models.dir, 'slow', 32, 6);
  work = await tempDir('cyclestream-sec-images-');
  const cap = captureLogger();
  log = cap.lines;
  srv = await startTestApp(
    {
      modelsDir: models.dir,
      providers: ['cpu'],
      processingShortSidePx: 512,
      maxImagePixels: 20_000_000,
      maxImageAspectRatio: 10,
      maxConcurrentImages: 1,
      maxQueuedImages: 1,
    },
    {},
    cap.logger,
  );
});

after(async () => {
  await srv?.close();
  await models?.cleanup();
  await work?.cleanup();
});

async function post(body: Buffer, name: string, modelId = 'invert'): Promise<{ status: number; body: any; headers: Headers }> {
  const form = new FormData();
  form.set('modelId', modelId);
  form.set('file', new Blob([new Uint8Array(body)]), name);
  const res = await fetch(`${srv.url}/api/translate/image`, { method: 'POST', body: form });
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, body: type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

/** A PNG whose header claims width x height, with one row of real data: what a decompression bomb looks like from outside. */
function claimingPng(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1 + width * 3))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const strip = () => sharp({ create: { width: 100_000, height: 100, channels: 3, background: '#3a7' } }).png().toBuffer();

test('pixel count and aspect ratio are refused from the header, before decoding (413, one log line each)', async () => {
  const bomb = await post(claimingPng(30_000, 30_000), 'bomb.png');
  assert.equal(bomb.status, 413, JSON.stringify(bomb.body));
  assert.equal(bomb.body.error.code, 'FRAME_TOO_LARGE');
  assert.match(bomb.body.error.message, /30000x30000 \(900\.0 MP\); the limit is 20\.0 MP/);
  const wide = await post(await strip(), 'strip.png');
  assert.equal(wide.status, 413);
  assert.match(wide.body.error.message, /100000x100, an aspect ratio of 1000\.0:1; the limit is 10:1/);
  assert.equal(log.filter((l) => l.code === 'FRAME_TOO_LARGE').length, 2);
});

test('only JPEG, PNG and WebP reach the decoder: SVG (and its references), GIF, TIFF are 415', async () => {
  const pipe = makeFifo(path.join(work.dir, 'secret.fifo'));
  const watch = watchFifo(pipe);
  try {
    const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><image href="file://${pipe}" width="64" height="64"/></svg>`);
    const tiny = sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } });
    const cases: [string, Buffer][] = [
      ['svg', svg],
      ['gif', await tiny.clone().gif().toBuffer()],
      ['tiff', await tiny.clone().tiff().toBuffer()],
    ];
    for (const [name, body] of cases) {
      const res = await post(body, `picture.png`);
      assert.equal(res.status, 415, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'MEDIA_UNSUPPORTED');
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(watch.opened, false, 'the file the SVG names was never opened');
  } finally {
    watch.stop();
  }
});

test('whatever the aspect ratio, the model sees a bounded picture: a 100000x100 strip runs at 512x4 at most', async () => {
  const host = createInferenceHost({ modelsDir: FIXTURE_MODELS_DIR, providers: ['cpu'], intraOpThreads: 1 });
  try {
    const generator = await host.loadModel('invert');
    try {
      const out = await translateImage({ input: await strip(), generator, processingShortSidePx: 128, maxPixels: 50_000_000, maxAspectRatio: 10_000 });
      assert.deepEqual([out.width, out.height], [100_000, 100], 'the result keeps the image size');
      const seen = generator.stats();
      assert.ok(Math.max(seen.width, seen.height) <= 4 * 128, `model input ${seen.width}x${seen.height}`);
      assert.equal(seen.height, 4, 'scaled down as a whole, aspect kept as far as the size multiple allows');
    } finally {
      await generator.close();
    }
  } finally {
    await host.close();
  }
});

test('at most N translations at once and N waiting; the rest 503 with Retry-After; one warm generator shared', async () => {
  const photo = await sharp({ create: { width: 768, height: 512, channels: 3, background: '#48c' } }).jpeg().toBuffer();
  const results = await Promise.all(Array.from({ length: 6 }, () => post(photo, 'photo.jpg', 'slow')));
  const statuses = results.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 200, 503, 503, 503, 503], `1 running + 1 waiting served: ${statuses}`);
  for (const r of results.filter((x) => x.status === 503)) {
    assert.equal(r.body.error.code, 'SERVER_BUSY');
    assert.ok(Number(r.headers.get('retry-after')) > 0);
  }
  assert.equal(log.filter((l) => l.code === 'SERVER_BUSY').length, 4, 'one log line per refusal');
  const health = (await (await fetch(`${srv.url}/api/health`)).json()) as HealthResponse;
  assert.equal(health.openModelSessions, 1, 'the second image reused the first one\'s warm generator');
});

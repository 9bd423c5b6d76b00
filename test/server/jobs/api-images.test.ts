/**
 * The image API over real HTTP: JPEG, PNG and WebP in and out at their own size, and the bad
 * inputs answered with a 4xx that names the problem.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import { SHARED_DIR } from '../../helpers/paths.js';
import { startApiServers, type ApiServers } from './api-helpers.js';
import { invertError, meanAbsDiff } from './helpers.js';

let api: ApiServers;

before(async () => {
  api = await startApiServers();
});

after(async () => {
  await api?.close();
});

test('images: JPEG, PNG (with transparency) and WebP come back inverted at their own size', async (t) => {
  const { srv } = api;
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
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(body.error.code, code);
  }
  const form = new FormData();
  form.set('modelId', 'nope');
  form.set('file', new Blob([inputs.png]), 'p.png');
  assert.equal((await fetch(`${srv.url}/api/translate/image`, { method: 'POST', body: form })).status, 404);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRgbConverter } from '../../../server/codec/index.js';
import { ClosedError } from '../../../server/shared/errors.js';
import { allocRgb } from '../../../server/shared/image.js';
import { meanAbsDiff, psnr, syntheticRgb } from './synthetic.js';

test('RGB -> yuv420p -> RGB at the same size stays close (4:2:0 chroma loss only)', async () => {
  await using conv = createRgbConverter();
  const src = syntheticRgb(320, 240);
  const frame = conv.fromRgb(src, 320, 240);
  assert.equal(frame.width, 320);
  assert.equal(frame.height, 240);
  const back = conv.toRgb(frame, 320, 240);
  assert.equal(back.width, 320);
  assert.equal(back.height, 240);
  assert.equal(back.data.length, 320 * 240 * 3);
  // Smooth gradients survive 4:2:0 well; patch edges lose some chroma.
  assert.ok(psnr(src.data, back.data) > 30, `psnr ${psnr(src.data, back.data)}`);
  assert.ok(meanAbsDiff(src.data, back.data) < 3, `mad ${meanAbsDiff(src.data, back.data)}`);
});

test('fromRgb scales up and toRgb scales down in the same call as the conversion', async () => {
  await using conv = createRgbConverter();
  const src = syntheticRgb(160, 120);
  const big = conv.fromRgb(src, 640, 480);
  assert.equal(big.width, 640);
  assert.equal(big.height, 480);
  const small = conv.toRgb(big, 160, 120);
  assert.ok(psnr(src.data, small.data) > 28, `psnr ${psnr(src.data, small.data)}`);
});

test('buffers and swscale contexts are reused while sizes stay the same', async () => {
  await using conv = createRgbConverter();
  const a = syntheticRgb(64, 48, 0);
  const b = syntheticRgb(64, 48, 5);
  const f1 = conv.fromRgb(a, 64, 48);
  const r1 = conv.toRgb(f1, 64, 48);
  const f2 = conv.fromRgb(b, 64, 48);
  const r2 = conv.toRgb(f2, 64, 48);
  assert.equal(f1, f2, 'fromRgb returns the converter-owned frame');
  assert.equal(r1, r2, 'toRgb returns the converter-owned image');
  assert.equal(conv.stats().contextsCreated, 2);
  assert.ok(meanAbsDiff(r2.data, b.data) < meanAbsDiff(r2.data, a.data) / 2, 'the reused image holds the latest frame');

  // A size change builds new contexts once, then reuses them again.
  conv.toRgb(f2, 32, 24);
  conv.toRgb(f2, 32, 24);
  assert.equal(conv.stats().contextsCreated, 3);
  assert.equal(conv.stats().toRgbCalls, 4);
  assert.equal(conv.stats().fromRgbCalls, 2);
});

test('toRgb writes into a caller-provided image, including plain Uint8Arrays', async () => {
  await using conv = createRgbConverter();
  const src = syntheticRgb(64, 48);
  const frame = conv.fromRgb(src, 64, 48);
  const out = allocRgb(64, 48);
  const got = conv.toRgb(frame, 64, 48, out);
  assert.equal(got, out);
  assert.ok(meanAbsDiff(out.data, src.data) < 4);
  assert.throws(() => conv.toRgb(frame, 32, 24, out), /out image is 64x48/);
});

test('close is idempotent and later use throws ClosedError', async () => {
  const conv = createRgbConverter();
  conv.fromRgb(syntheticRgb(32, 32), 32, 32);
  await conv.close();
  await conv.close();
  await conv[Symbol.asyncDispose]();
  assert.throws(() => conv.fromRgb(syntheticRgb(32, 32), 32, 32), ClosedError);
});

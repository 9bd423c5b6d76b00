import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createInferenceHost } from '../../../server/inference/index.js';
import {
  InferenceError,
  ManifestError,
  ModelIdError,
  ModelLoadError,
  ModelNotFoundError,
} from '../../../server/shared/errors.js';
import { CPU, allValues, assertCloseLifecycle, scratchModels } from './helpers.js';

test('invert fixture: every output byte is 255 - input, exactly', async () => {
  await using host = createInferenceHost(CPU);
  const gen = await host.loadModel('invert');
  assert.equal(gen.provider, 'cpu');
  assert.equal(gen.manifest.id, 'invert');
  const img = allValues(36, 20);
  const out = await gen.run(img);
  assert.equal(out.width, 36);
  assert.equal(out.height, 20);
  let maxErr = 0;
  for (let i = 0; i < img.data.length; i++) maxErr = Math.max(maxErr, Math.abs(out.data[i] - (255 - img.data[i])));
  assert.ok(maxErr <= 1, `max error ${maxErr}`);
  assert.equal(maxErr, 0, 'float path is exact for y = -x');
});

test('swap-rb fixture: R and B trade places, G untouched', async () => {
  await using host = createInferenceHost(CPU);
  const gen = await host.loadModel('swap-rb');
  const img = allValues(16, 8);
  const out = await gen.run(img);
  for (let p = 0; p < 16 * 8; p++) {
    assert.equal(out.data[3 * p], img.data[3 * p + 2]);
    assert.equal(out.data[3 * p + 1], img.data[3 * p + 1]);
    assert.equal(out.data[3 * p + 2], img.data[3 * p]);
  }
});

test('output buffer is reused across runs at one size and follows size changes', async () => {
  await using host = createInferenceHost(CPU);
  const gen = await host.loadModel('invert');
  const a = await gen.run(allValues(8, 8));
  const first = a.data[0];
  const b = await gen.run({ width: 8, height: 8, data: new Uint8Array(192).fill(10) });
  assert.equal(a, b, 'same RgbImage object');
  assert.equal(b.data[0], 245);
  assert.notEqual(first, 245);
  const c = await gen.run({ width: 12, height: 4, data: new Uint8Array(144).fill(0) });
  assert.equal(c.width, 12);
  assert.equal(c.data[143], 255);
  const s = gen.stats();
  assert.equal(s.runs, 3);
  assert.equal(s.width, 12);
  assert.ok(s.avgInferenceMs >= 0 && s.lastInferenceMs >= 0);
});

test('sizes that are not a multiple of 4 and wrong buffer lengths throw InferenceError', async () => {
  await using host = createInferenceHost(CPU);
  const gen = await host.loadModel('invert');
  await assert.rejects(gen.run({ width: 10, height: 8, data: new Uint8Array(240) }), (err: unknown) => err instanceof InferenceError && /multiple of 4/.test(err.message));
  await assert.rejects(gen.run({ width: 8, height: 8, data: new Uint8Array(10) }), InferenceError);
  assert.equal(gen.stats().runs, 0);
});

test('run() while a run is in flight is refused rather than corrupting shared buffers', async () => {
  await using host = createInferenceHost(CPU);
  const gen = await host.loadModel('invert');
  const img = allValues(8, 8);
  const first = gen.run(img);
  await assert.rejects(gen.run(img), /in progress/);
  await first;
});

test('warmup runs once at the size given and is not counted as a run', async () => {
  await using host = createInferenceHost(CPU);
  const gen = await host.loadModel('invert');
  await gen.warmup(64, 48);
  const s = gen.stats();
  assert.equal(s.warmups, 1);
  assert.equal(s.runs, 0);
  assert.equal(s.width, 64);
  assert.equal(s.height, 48);
});

test('unknown, path-like and broken models fail with the right error class', async () => {
  await using host = createInferenceHost(CPU);
  await assert.rejects(host.loadModel('no-such-model'), ModelNotFoundError);
  await assert.rejects(host.loadModel('..'), ModelIdError);
  await assert.rejects(host.loadModel('../models/invert'), ModelIdError);
  await assert.rejects(host.loadModel('a/b'), ModelIdError);
  await assert.rejects(host.loadModel('broken'), (err: unknown) => err instanceof ModelLoadError && /Protobuf|parse|load/i.test(err.message));
  assert.equal(host.openSessions(), 0);
});

test('a manifest that disagrees with the model file is refused', async () => {
  const { dir, cleanup } = await scratchModels();
  try {
    const path = join(dir, 'invert.json');
    const m = JSON.parse(await readFile(path, 'utf8')) as { input: { name: string } };
    m.input.name = 'image';
    await writeFile(path, JSON.stringify(m));
    await using host = createInferenceHost({ ...CPU, modelsDir: dir });
    await assert.rejects(host.loadModel('invert'), (err: unknown) => err instanceof ModelLoadError && /"image"/.test(err.message));
    assert.equal(host.openSessions(), 0, 'the rejected session was released');

    await writeFile(join(dir, 'swap-rb.json'), '{"schemaVersion": 1}');
    await assert.rejects(host.loadModel('swap-rb'), ManifestError);
  } finally {
    await cleanup();
  }
});

test('close is idempotent, openSessions() returns to 0, and the host closes what it opened (in-process)', async () => {
  await assertCloseLifecycle(createInferenceHost({ ...CPU, worker: false }));
});

/**
 * The worker-thread generator (InferenceHostOptions.worker, the default): same results and
 * error classes as the in-process one, session lifecycle accounted for, and the event loop
 * left free while a model runs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createInferenceHost, type Generator } from '../../../server/inference/index.js';
import { InferenceError, ModelLoadError } from '../../../server/shared/errors.js';
import { writeConvStackModel } from './conv-stack-model.js';
import { CPU, FIXTURE_MODELS, allValues, assertCloseLifecycle, captureLogger } from './helpers.js';

test('worker is the default, and the invert fixture is pixel-exact through it', async () => {
  await using host = createInferenceHost(CPU);
  const gen = await host.loadModel('invert');
  assert.equal(gen.stats().thread, 'worker');
  assert.equal(gen.provider, 'cpu');
  for (const [w, h] of [
    [36, 20],
    [64, 48],
    [36, 20],
  ]) {
    const img = allValues(w, h, w);
    const out = await gen.run(img);
    assert.equal(out.width, w);
    assert.equal(out.height, h);
    assert.equal(out.data.length, w * h * 3);
    let maxErr = 0;
    for (let i = 0; i < img.data.length; i++) maxErr = Math.max(maxErr, Math.abs(out.data[i] - (255 - img.data[i])));
    assert.equal(maxErr, 0, `${w}x${h}: max error ${maxErr}`);
  }
  assert.equal(gen.stats().runs, 3);
});

test('worker and in-process generators give identical bytes (swap-rb and a real conv stack)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cyclestream-worker-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeConvStackModel(dir, 'convs', 8, 3);
  for (const [modelsDir, id] of [
    [FIXTURE_MODELS, 'swap-rb'],
    [dir, 'convs'],
  ] as const) {
    await using inWorker = createInferenceHost({ ...CPU, modelsDir, worker: true });
    await using inProcess = createInferenceHost({ ...CPU, modelsDir, worker: false });
    const a = await inWorker.loadModel(id);
    const b = await inProcess.loadModel(id);
    assert.equal(a.stats().thread, 'worker');
    assert.equal(b.stats().thread, 'main');
    const img = allValues(40, 24, 5);
    const outA = Uint8Array.from((await a.run(img)).data);
    const outB = (await b.run(img)).data;
    assert.deepEqual(outA, Uint8Array.from(outB), id);
  }
});

test('the result image is reused at one size and the input may be overwritten once run resolves', async () => {
  await using host = createInferenceHost({ ...CPU, worker: true });
  const gen = await host.loadModel('invert');
  const input = { width: 8, height: 8, data: new Uint8Array(192).fill(10) };
  const a = await gen.run(input);
  input.data.fill(200);
  assert.equal(a.data[0], 245, 'the worker read its own copy of the input');
  const b = await gen.run(input);
  assert.equal(a, b, 'same RgbImage object');
  assert.equal(b.data[0], 55);
  const c = await gen.run({ width: 4, height: 4, data: new Uint8Array(48).fill(0) });
  assert.equal(c.width, 4);
  assert.equal(c.data.length, 48);
  assert.equal(c.data[47], 255);
});

test('bad sizes and overlapping runs are refused with InferenceError, as in-process', async () => {
  await using host = createInferenceHost({ ...CPU, worker: true });
  const gen = await host.loadModel('invert');
  await assert.rejects(gen.run({ width: 10, height: 8, data: new Uint8Array(240) }), (err: unknown) => err instanceof InferenceError && /multiple of 4/.test(err.message));
  await assert.rejects(gen.run({ width: 8, height: 8, data: new Uint8Array(10) }), InferenceError);
  const first = gen.run(allValues(8, 8));
  await assert.rejects(gen.run(allValues(8, 8)), /in progress/);
  await first;
  await gen.warmup(12, 8);
  assert.equal(gen.stats().warmups, 1);
  assert.equal(gen.stats().runs, 1);
});

test('a broken model rejects at loadModel with ModelLoadError and leaves no session open', async () => {
  await using host = createInferenceHost({ ...CPU, worker: true });
  await assert.rejects(host.loadModel('broken'), (err: unknown) => err instanceof ModelLoadError && /Protobuf|parse|load/i.test(err.message));
  await using fallingBack = createInferenceHost({ ...CPU, providers: ['webgpu', 'cpu'], worker: true });
  await assert.rejects(fallingBack.loadModel('broken'), ModelLoadError);
  assert.equal(host.openSessions() + fallingBack.openSessions(), 0);
});

test('provider fallback happens in the worker and is logged on the host logger', async (t) => {
  const { logger, lines } = captureLogger();
  await using host = createInferenceHost({ modelsDir: FIXTURE_MODELS, intraOpThreads: 1, worker: true, logger });
  const gen = await host.loadModel('invert');
  assert.equal(gen.stats().thread, 'worker');
  if (gen.provider !== 'cpu') {
    t.diagnostic(`GPU provider ${gen.provider} available here; fallback to cpu not exercised`);
    return;
  }
  assert.deepEqual(
    lines.filter((l) => l.level === 40).map((l) => l.provider),
    ['cuda', 'webgpu'],
  );
  const chosen = lines.find((l) => l.level === 30);
  assert.equal(chosen?.provider, 'cpu');
  assert.deepEqual(chosen?.skipped, ['cuda', 'webgpu']);
  assert.equal((await gen.run({ width: 4, height: 4, data: new Uint8Array(48).fill(200) })).data[0], 55);
});

test('close is idempotent, waits for the run in flight, and openSessions() returns to 0', async () => {
  await assertCloseLifecycle(createInferenceHost({ ...CPU, worker: true }));
});

test('an injected session factory cannot be combined with worker: true', () => {
  assert.throws(() => createInferenceHost({ ...CPU, worker: true, createSession: async () => Promise.reject(new Error('unused')) }), /cannot run in a worker/);
});

test('the event loop keeps ticking while the worker runs a heavy model', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cyclestream-worker-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // About 2.5 G MACs at 256x256: tens to hundreds of ms on one thread.
  await writeConvStackModel(dir, 'heavy', 32, 6);
  await using host = createInferenceHost({ ...CPU, modelsDir: dir, worker: true });
  const gen: Generator = await host.loadModel('heavy');
  await gen.warmup(256, 256);
  const img = allValues(256, 256);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    for (let i = 0; i < 3; i++) {
      const before = ticks;
      await gen.run(img);
      assert.ok(ticks > before, `run ${i}: no timer tick while the model ran`);
    }
  } finally {
    clearInterval(timer);
  }
  t.diagnostic(`${ticks} ticks over 3 runs of ${gen.stats().avgInferenceMs.toFixed(0)} ms`);
});

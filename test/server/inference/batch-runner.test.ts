/**
 * Batching across streams (server/inference/batch-runner.ts), with real ONNX Runtime on the CPU
 * and the `invert` fixture: generators of one model share one worker session when asked to;
 * frames that arrive while a run is in flight go together in the next run, each stream gets
 * exactly its own frame's result, frames of another size run on their own, and the shared
 * session closes with its last generator. 'auto' leaves CPU sessions unshared.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createInferenceHost } from '../../../server/inference/index.js';
import type { RgbImage } from '../../../server/shared/image.js';
import { CPU, allValues } from './helpers.js';

function assertInverted(out: RgbImage, img: RgbImage, label: string): void {
  assert.deepEqual([out.width, out.height], [img.width, img.height], label);
  for (let i = 0; i < img.data.length; i++) {
    if (out.data[i] !== 255 - img.data[i]!) assert.fail(`${label}: byte ${i} is ${out.data[i]}, expected ${255 - img.data[i]!}`);
  }
}

test('streams of one model share a batched session: concurrent frames run together, each gets its own result', async () => {
  await using host = createInferenceHost({ ...CPU, batchAcrossStreams: 'on', maxBatch: 4 });
  const [a, b, c, d] = await Promise.all([host.loadModel('invert'), host.loadModel('invert'), host.loadModel('invert'), host.loadModel('invert')]);
  assert.equal(host.openSessions(), 4, 'each stream holds a generator');

  const imgs = [0, 1, 2].map((seed) => allValues(36, 20, seed));
  const other = allValues(24, 16, 9);
  // a starts a run alone; b and c arrive while it is in flight and share the next one; d's
  // frame has another size and runs by itself after them.
  const [oa, ob, oc, od] = await Promise.all([a!.run(imgs[0]!), b!.run(imgs[1]!), c!.run(imgs[2]!), d!.run(other)]);
  assertInverted(oa, imgs[0]!, 'a');
  assertInverted(ob, imgs[1]!, 'b');
  assertInverted(oc, imgs[2]!, 'c');
  assertInverted(od, other, 'd');
  assert.deepEqual([a!, b!, c!, d!].map((g) => g.stats().lastBatch), [1, 2, 2, 1]);
  // Results are per stream: b's next run does not touch the image c got.
  const cCopy = Uint8Array.from(oc.data);
  await b!.run(allValues(36, 20, 5));
  assert.deepEqual(oc.data, cCopy);

  // Every frame counts as one model run, whatever the batching.
  assert.equal(host.modelRuns(), 5);
  await Promise.all([a!.close(), b!.close(), c!.close()]);
  assert.equal(host.openSessions(), 1);
  // The session is still there for the last stream.
  assertInverted(await d!.run(imgs[0]!), imgs[0]!, 'd after the others left');
  await d!.close();
  assert.equal(host.openSessions(), 0);

  // A new stream after the last one closed opens a new session.
  const e = await host.loadModel('invert');
  assertInverted(await e.run(imgs[1]!), imgs[1]!, 'e');
  await e.close();
});

test("'auto' shares sessions on GPU providers only: on the CPU each stream keeps its own worker", async () => {
  await using host = createInferenceHost({ ...CPU, batchAcrossStreams: 'auto' });
  const a = await host.loadModel('invert');
  const b = await host.loadModel('invert');
  const img = allValues(36, 20);
  const [oa, ob] = await Promise.all([a.run(img), b.run(img)]);
  assertInverted(oa, img, 'a');
  assertInverted(ob, img, 'b');
  assert.deepEqual([a.stats().lastBatch, b.stats().lastBatch], [1, 1]);
  await Promise.all([a.close(), b.close()]);
});

test('a model with a fixed batch of 1 is never shared, even with batching on', async () => {
  await using host = createInferenceHost({ ...CPU, batchAcrossStreams: 'on' });
  const a = await host.loadModel('swap-rb');
  const b = await host.loadModel('swap-rb');
  const img = allValues(36, 20);
  await Promise.all([a.run(img), b.run(img)]);
  assert.deepEqual([a.stats().lastBatch, b.stats().lastBatch], [1, 1]);
  await Promise.all([a.close(), b.close()]);
  assert.equal(host.openSessions(), 0);
});

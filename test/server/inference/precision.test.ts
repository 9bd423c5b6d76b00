/**
 * The fp16 copies of the shipped generators (training/fp16.py): a manifest's `fp16` file is what
 * loads when asked for (on GPU providers by default), it translates like the fp32 file within a
 * fraction of an 8-bit level, and 'auto' keeps fp32 on the CPU.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createInferenceHost, readManifest } from '../../../server/inference/index.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { allValues } from './helpers.js';

const MODELS = join(REPO_ROOT, 'models');
const base = { modelsDir: MODELS, providers: ['cpu'] as const, intraOpThreads: 1 };

test('shipped fp16 copy: loaded when asked for, within a fraction of a level of fp32; auto keeps fp32 on the CPU', async () => {
  const manifest = await readManifest(join(MODELS, 'horse2zebra.json'));
  assert.ok(manifest.fp16, 'models/horse2zebra.json lists an fp16 copy');
  assert.ok(existsSync(join(MODELS, manifest.fp16.file)));
  await using fp32Host = createInferenceHost({ ...base, precision: 'fp32' });
  await using fp16Host = createInferenceHost({ ...base, precision: 'fp16' });
  await using autoHost = createInferenceHost({ ...base, precision: 'auto' });
  const fp32 = await fp32Host.loadModel('horse2zebra');
  const fp16 = await fp16Host.loadModel('horse2zebra');
  const auto = await autoHost.loadModel('horse2zebra');
  const img = allValues(64, 48, 3);
  const a = Uint8Array.from((await fp32.run(img)).data);
  const h = Uint8Array.from((await fp16.run(img)).data);
  const c = Uint8Array.from((await auto.run(img)).data);
  let sum = 0;
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - h[i]!);
    sum += d;
    max = Math.max(max, d);
    if (d) differing++;
  }
  // Different arithmetic, same translation.
  assert.ok(differing > 0, 'fp16 output is bit-identical to fp32: the fp16 file was not used');
  assert.ok(sum / a.length < 0.5, `mean difference ${(sum / a.length).toFixed(3)} levels`);
  assert.ok(max <= 4, `max difference ${max} levels`);
  assert.deepEqual(c, a, "'auto' on the cpu provider loads the fp32 file");
  await Promise.all([fp32.close(), fp16.close(), auto.close()]);
});

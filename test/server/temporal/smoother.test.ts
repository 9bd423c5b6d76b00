import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RgbImage } from '../../../server/shared/image.js';
import { createTemporalSmoother } from '../../../server/temporal/index.js';
import { mulberry32 } from '../../helpers/random.js';

const W = 64;
const H = 48;

/** Static textured background with an optional bright square at (sx, sy). */
function scene(sx: number | null, sy = 16, size = 12): RgbImage {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      const inSquare = sx !== null && x >= sx && x < sx + size && y >= sy && y < sy + size;
      data[i] = inSquare ? 250 : 40 + ((x * 3) % 60);
      data[i + 1] = inSquare ? 240 : 60 + ((y * 5) % 50);
      data[i + 2] = inSquare ? 230 : 90;
    }
  }
  return { width: W, height: H, data };
}

/** Stand-in generator: invert, plus per-frame noise of +-amp that emulates GAN flicker. */
function generate(input: RgbImage, frame: number, amp: number): RgbImage {
  const rnd = mulberry32(frame + 1);
  const data = new Uint8Array(input.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = 255 - input.data[i] + Math.round((rnd() * 2 - 1) * amp);
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { width: input.width, height: input.height, data };
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array, mask?: (pixel: number) => boolean): number {
  let sum = 0;
  let n = 0;
  for (let p = 0; p < a.length / 3; p++) {
    if (mask && !mask(p)) continue;
    for (let c = 0; c < 3; c++) sum += Math.abs(a[3 * p + c] - b[3 * p + c]);
    n += 3;
  }
  return sum / n;
}

test('strength 0 is the identity: the output object itself, bit-exact', () => {
  const smoother = createTemporalSmoother({ strength: 0 });
  for (let f = 0; f < 5; f++) {
    const input = scene(f * 4);
    const output = generate(input, f, 20);
    const copy = Uint8Array.from(output.data);
    const got = smoother.process(input, output);
    assert.equal(got, output);
    assert.deepEqual(got.data, copy);
  }
  assert.equal(smoother.stats().frames, 5);
  assert.equal(smoother.stats().meanBlendWeight, 0);
});

test('static input with flickering output: frame-to-frame change drops sharply', () => {
  const input = scene(null);
  const run = (strength: number) => {
    const smoother = createTemporalSmoother({ strength });
    let prev: Uint8Array | null = null;
    let change = 0;
    for (let f = 0; f < 30; f++) {
      const out = Uint8Array.from(smoother.process(input, generate(input, f, 16)).data);
      if (prev && f >= 10) change += meanAbsDiff(out, prev);
      prev = out;
    }
    return { change: change / 20, stats: smoother.stats() };
  };
  const off = run(0);
  const on = run(0.8);
  assert.ok(on.change < off.change * 0.4, `change with smoothing ${on.change.toFixed(2)} vs without ${off.change.toFixed(2)}`);
  assert.equal(on.stats.staticFraction, 1);
  assert.ok(Math.abs(on.stats.meanBlendWeight - 0.8) < 1e-6, `mean blend ${on.stats.meanBlendWeight}`);
});

test('a moving region follows the new frame at once (no lag, no ghost)', () => {
  const smoother = createTemporalSmoother({ strength: 0.9 });
  for (let f = 0; f < 12; f++) {
    const input = scene(4 + f * 4);
    // Noise-free output: wherever the smoother lags, the result differs from it.
    const output = generate(input, f, 0);
    const got = smoother.process(input, output);
    assert.equal(meanAbsDiff(got.data, output.data), 0, `frame ${f}`);
  }
});

test('moving square over a flickering background: square tracks the current frame, background is smoothed', () => {
  const smoother = createTemporalSmoother({ strength: 0.8 });
  let prevRaw: Uint8Array | null = null;
  let prevSmoothed: Uint8Array | null = null;
  let rawChange = 0;
  let smoothChange = 0;
  for (let f = 0; f < 16; f++) {
    const sx = 2 + f * 3;
    const input = scene(sx);
    const clean = generate(input, f, 0);
    const prevClean = generate(scene(sx - 3), f, 0);
    const raw = generate(input, f, 12);
    const got = Uint8Array.from(smoother.process(input, raw).data);
    // Pixels the square covers now or covered a frame ago.
    const moving = (p: number) => {
      const x = p % W;
      const y = (p / W) | 0;
      return y >= 16 && y < 28 && x >= sx - 3 && x < sx + 12;
    };
    // Background well away from the square.
    const still = (p: number) => ((p / W) | 0) >= 36;
    if (f > 0) {
      const toCurrent = meanAbsDiff(got, clean.data, moving);
      const toPrevious = meanAbsDiff(got, prevClean.data, moving);
      assert.ok(toCurrent < toPrevious / 4, `frame ${f}: error to current ${toCurrent.toFixed(1)}, to previous ${toPrevious.toFixed(1)}`);
      assert.ok(toCurrent <= meanAbsDiff(raw.data, clean.data, moving) + 0.5, `frame ${f}: no worse than the raw output`);
    }
    if (prevRaw && prevSmoothed && f >= 6) {
      rawChange += meanAbsDiff(raw.data, prevRaw, still);
      smoothChange += meanAbsDiff(got, prevSmoothed, still);
    }
    prevRaw = raw.data;
    prevSmoothed = got;
  }
  assert.ok(smoothChange < rawChange * 0.4, `background change ${smoothChange.toFixed(1)} vs raw ${rawChange.toFixed(1)}`);
});

test('a size change resets history', () => {
  const smoother = createTemporalSmoother({ strength: 0.9 });
  const a = scene(null);
  smoother.process(a, generate(a, 0, 10));
  smoother.process(a, generate(a, 1, 10));
  const small: RgbImage = { width: 32, height: 16, data: new Uint8Array(32 * 16 * 3).fill(77) };
  const out: RgbImage = { width: 32, height: 16, data: new Uint8Array(32 * 16 * 3).fill(99) };
  const got = smoother.process(small, out);
  assert.equal(got.width, 32);
  assert.equal(got.height, 16);
  assert.deepEqual(got.data, out.data, 'first frame after a reset is the output as is');
  assert.equal(smoother.stats().resets, 1);
});

test('setStrength validates 0..1; 0 turns smoothing off and re-enabling starts fresh', () => {
  const smoother = createTemporalSmoother({ strength: 0.5 });
  for (const bad of [-0.1, 1.1, Number.NaN, Infinity, '0.5' as unknown as number]) {
    assert.throws(() => smoother.setStrength(bad), /strength must be a number/);
  }
  assert.throws(() => createTemporalSmoother({ strength: 2 }), /strength must be a number/);
  const input = scene(null);
  smoother.process(input, generate(input, 0, 10));
  smoother.setStrength(0);
  const o1 = generate(input, 1, 10);
  assert.equal(smoother.process(input, o1), o1);
  smoother.setStrength(1);
  const o2 = generate(input, 2, 10);
  assert.deepEqual(smoother.process(input, o2).data, o2.data, 'no stale history blended in');
  assert.equal(smoother.stats().strength, 1);
});

test('mismatched input and output sizes are refused', () => {
  const smoother = createTemporalSmoother({ strength: 0.5 });
  const a = scene(null);
  assert.throws(() => smoother.process(a, { width: 32, height: 48, data: new Uint8Array(32 * 48 * 3) }), /differ/);
  assert.throws(() => smoother.process(a, { width: W, height: H, data: new Uint8Array(5) }), /must hold/);
});

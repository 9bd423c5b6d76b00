/**
 * The translation stage (server/translate): model, then smoothing, scaling and encoding of that
 * frame while the model works on the next one. A stand-in model (it inverts the picture, and
 * finishes when the test says so) makes the overlap observable without timing anything; the
 * smoothing and the RGB -> YUV scaling are the real ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRgbConverter, type Frame, type RgbConverter } from '../../../server/codec/index.js';
import type { RgbImage } from '../../../server/shared/index.js';
import { createTemporalSmoother } from '../../../server/temporal/index.js';
import { FrameTranslator } from '../../../server/translate/index.js';

const W = 16;
const H = 8;

function grey(value: number): RgbImage {
  return { width: W, height: H, data: new Uint8Array(W * H * 3).fill(value) };
}

/** Lets every callback already due run: promise chains and the stage's setImmediate hand-off. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

/** Inverts into one buffer it reuses, as real generators do; each run ends when the test says so unless `auto`. */
function invertingModel(auto: boolean) {
  const out: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  const pending: (() => void)[] = [];
  let runs = 0;
  return {
    get runs() {
      return runs;
    },
    finishNext: () => pending.shift()!(),
    run(img: RgbImage): Promise<RgbImage> {
      runs++;
      return new Promise<RgbImage>((resolve, reject) => {
        const finish = () => {
          if (img.data[0] === 13) return reject(new Error('model failed'));
          for (let i = 0; i < img.data.length; i++) out.data[i] = 255 - img.data[i]!;
          resolve(out);
        };
        if (auto) finish();
        else pending.push(finish);
      });
    },
  };
}

/** The mean RGB value of an encoded-to-be frame, read back through the converter. */
function meanOf(converter: RgbConverter, yuv: Frame): number {
  const back = converter.toRgb(yuv, W, H);
  return back.data.reduce((s, v) => s + v, 0) / back.data.length;
}

test('frames are finished in order with their meta, each job is released once, and runs are counted', async (t) => {
  const converter = createRgbConverter();
  t.after(() => converter.close());
  const model = invertingModel(true);
  const encoded: { meta: string; mean: number }[] = [];
  const released: string[] = [];
  const translator = new FrameTranslator<string>({
    temporal: createTemporalSmoother({ strength: 0 }),
    converter,
    encode: async (yuv, meta) => {
      encoded.push({ meta, mean: meanOf(converter, yuv) });
    },
    onError: (err) => assert.fail(String(err)),
  });
  for (const [meta, value] of [['a', 10], ['b', 100], ['c', 200]] as const) {
    await translator.translate(model, { img: grey(value), streamWidth: W, streamHeight: H, meta, release: () => released.push(meta) });
  }
  await translator.flush();
  assert.deepEqual(encoded.map((e) => e.meta), ['a', 'b', 'c']);
  // Each frame encodes its own model output, though the model wrote every one into the same buffer.
  encoded.forEach((e, i) => assert.ok(Math.abs(e.mean - (255 - [10, 100, 200][i]!)) <= 2, `${e.meta}: mean ${e.mean}`));
  assert.deepEqual(released, ['a', 'b', 'c']);
  assert.equal(translator.runs, 3);
});

test("the next frame's model run starts while the previous frame is still encoding, and waits for it before the one after", async (t) => {
  const converter = createRgbConverter();
  t.after(() => converter.close());
  const model = invertingModel(false);
  const encodes: { meta: number; done: () => void }[] = [];
  const translator = new FrameTranslator<number>({
    temporal: createTemporalSmoother({ strength: 0.5 }),
    converter,
    encode: (_yuv, meta) => new Promise<void>((done) => encodes.push({ meta, done })),
    onError: (err) => assert.fail(String(err)),
  });
  const job = (meta: number) => ({ img: grey(meta), streamWidth: W, streamHeight: H, meta });

  const first = translator.translate(model, job(1));
  model.finishNext();
  await first;
  await settle();
  assert.deepEqual(encodes.map((e) => e.meta), [1], 'frame 1 is encoding');

  let secondDone = false;
  const second = translator.translate(model, job(2)).then(() => (secondDone = true));
  await settle();
  assert.equal(model.runs, 2, 'the model took frame 2 while frame 1 encodes');
  model.finishNext();
  await settle();
  assert.equal(secondDone, false, 'frame 2 waits until frame 1 is finished');
  assert.deepEqual(encodes.map((e) => e.meta), [1], 'one frame finishing at a time');

  encodes[0]!.done();
  await second;
  await settle();
  assert.deepEqual(encodes.map((e) => e.meta), [1, 2]);
  encodes[1]!.done();
  await translator.flush();
});

test('a model failure rejects translate and releases the job; a failure after the model goes to onError and the stream goes on', async (t) => {
  const converter = createRgbConverter();
  t.after(() => converter.close());
  const model = invertingModel(true);
  const errors: unknown[] = [];
  const encoded: number[] = [];
  const released: number[] = [];
  const translator = new FrameTranslator<number>({
    temporal: createTemporalSmoother({ strength: 0 }),
    converter,
    encode: async (_yuv, meta) => {
      if (meta === 2) throw new Error('encoder broke');
      encoded.push(meta);
    },
    onError: (err) => errors.push(err),
  });
  const job = (meta: number, value = 50) => ({ img: grey(value), streamWidth: W, streamHeight: H, meta, release: () => released.push(meta) });

  await assert.rejects(translator.translate(model, job(1, 13)), /model failed/);
  assert.deepEqual(released, [1], 'released at once: nothing will read it');
  await translator.translate(model, job(2));
  await translator.translate(model, job(3));
  await translator.flush();
  assert.deepEqual(errors.map((e) => (e as Error).message), ['encoder broke']);
  assert.deepEqual(encoded, [3]);
  assert.deepEqual(released, [1, 2, 3]);
  assert.equal(translator.runs, 2, 'only runs that completed count');
});

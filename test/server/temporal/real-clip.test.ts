import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FormatContext, Packet } from 'node-av';
import { AVMEDIA_TYPE_VIDEO } from 'node-av/constants';
import { createRgbConverter, createVideoDecoder, setFfmpegLogLevel } from '../../../server/codec/index.js';
import { createInferenceHost } from '../../../server/inference/index.js';
import { processingSize, type RgbImage } from '../../../server/shared/image.js';
import { createTemporalSmoother } from '../../../server/temporal/index.js';
import { mulberry32 } from '../../helpers/random.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const shared = process.env.CYCLESTREAM_SHARED ?? resolve(repoRoot, '../shared');
const CLIP = join(shared, 'datasets/videos/davis-horsejump-high.webm');
const FIXTURES = join(repoRoot, 'test/fixtures/models');
const FRAMES = 30;
const BLOCK = 8;

setFfmpegLogLevel('error');

/**
 * Demuxes with node-av's low-level FormatContext: the high-level Demuxer.packets()
 * needs Promise.withResolvers, which Node 20 lacks. Decoding goes through our wrapper.
 */
async function decodeClip(path: string, count: number): Promise<RgbImage[]> {
  const fmt = new FormatContext();
  fmt.allocContext();
  assert.ok((await fmt.openInput(path, null, null)) >= 0, 'open clip');
  const packet = new Packet();
  packet.alloc();
  await using decoder = createVideoDecoder({ codec: 'vp9' });
  await using conv = createRgbConverter();
  const frames: RgbImage[] = [];
  try {
    assert.ok((await fmt.findStreamInfo(null)) >= 0);
    const video = fmt.findBestStream(AVMEDIA_TYPE_VIDEO);
    const par = fmt.streams[video].codecpar;
    const size = processingSize(par.width, par.height, 256, 4);
    while (frames.length < count && (await fmt.readFrame(packet)) >= 0) {
      if (packet.streamIndex === video && packet.data) {
        for (const d of await decoder.decode(packet.data)) {
          const rgb = conv.toRgb(d.frame, size.width, size.height);
          frames.push({ width: rgb.width, height: rgb.height, data: Uint8Array.from(rgb.data) });
        }
      }
      packet.unref();
    }
  } finally {
    packet.free();
    await fmt.closeInput();
  }
  return frames;
}

/** Per-block mean |luma change| between two frames, in 8-bit levels. */
function blockMotion(a: RgbImage, b: RgbImage): Float32Array {
  const bx = Math.ceil(a.width / BLOCK);
  const motion = new Float32Array(bx * Math.ceil(a.height / BLOCK));
  const count = new Float32Array(motion.length);
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const i = (y * a.width + x) * 3;
      const la = 0.299 * a.data[i] + 0.587 * a.data[i + 1] + 0.114 * a.data[i + 2];
      const lb = 0.299 * b.data[i] + 0.587 * b.data[i + 1] + 0.114 * b.data[i + 2];
      const k = ((y / BLOCK) | 0) * bx + ((x / BLOCK) | 0);
      motion[k] += Math.abs(la - lb);
      count[k]++;
    }
  }
  for (let k = 0; k < motion.length; k++) motion[k] /= count[k];
  return motion;
}

/** Mean |a - b| over the pixels whose block satisfies `pick`. */
function maskedDiff(a: Uint8Array, b: Uint8Array, img: RgbImage, motion: Float32Array, pick: (m: number) => boolean): { sum: number; n: number } {
  const bx = Math.ceil(img.width / BLOCK);
  let sum = 0;
  let n = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (!pick(motion[((y / BLOCK) | 0) * bx + ((x / BLOCK) | 0)])) continue;
      const i = (y * img.width + x) * 3;
      sum += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
      n += 3;
    }
  }
  return { sum, n };
}

test('real clip: smoothing calms static regions and keeps moving regions on the current frame', async (t) => {
  if (!existsSync(CLIP)) {
    t.skip(`clip not found at ${CLIP} (set CYCLESTREAM_SHARED)`);
    return;
  }
  const frames = await decodeClip(CLIP, FRAMES);
  assert.equal(frames.length, FRAMES);
  assert.equal(frames[0].height, 256);
  assert.equal(frames[0].width % 4, 0);

  await using host = createInferenceHost({ modelsDir: FIXTURES, providers: ['cpu'], intraOpThreads: 1 });
  const generator = await host.loadModel('invert');
  // The invert fixture plus deterministic per-frame noise stands in for a flickering GAN.
  const clean: Uint8Array[] = [];
  const noisy: Uint8Array[] = [];
  for (const [f, frame] of frames.entries()) {
    const out = await generator.run(frame);
    clean.push(Uint8Array.from(out.data));
    const rnd = mulberry32(1000 + f);
    const n = new Uint8Array(out.data.length);
    for (let i = 0; i < n.length; i++) {
      const v = out.data[i] + Math.round((rnd() * 2 - 1) * 12);
      n[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    noisy.push(n);
  }

  const smoother = createTemporalSmoother({ strength: 0.8 });
  const smoothed: Uint8Array[] = [];
  for (const [f, frame] of frames.entries()) {
    const out = smoother.process(frame, { width: frame.width, height: frame.height, data: noisy[f] });
    smoothed.push(Uint8Array.from(out.data));
  }

  const isStatic = (m: number) => m < 1.5;
  const isMoving = (m: number) => m > 24;
  const acc = { rawStatic: 0, smoothStatic: 0, nStatic: 0, toCurrent: 0, toPrevious: 0, nMoving: 0 };
  for (let f = 1; f < FRAMES; f++) {
    const motion = blockMotion(frames[f], frames[f - 1]);
    const raw = maskedDiff(noisy[f], noisy[f - 1], frames[f], motion, isStatic);
    const smooth = maskedDiff(smoothed[f], smoothed[f - 1], frames[f], motion, isStatic);
    acc.rawStatic += raw.sum;
    acc.smoothStatic += smooth.sum;
    acc.nStatic += raw.n;
    const cur = maskedDiff(smoothed[f], clean[f], frames[f], motion, isMoving);
    const prev = maskedDiff(smoothed[f], clean[f - 1], frames[f], motion, isMoving);
    acc.toCurrent += cur.sum;
    acc.toPrevious += prev.sum;
    acc.nMoving += cur.n;
  }
  assert.ok(acc.nStatic > 0 && acc.nMoving > 0, 'the clip has both static and moving regions');
  const rawStatic = acc.rawStatic / acc.nStatic;
  const smoothStatic = acc.smoothStatic / acc.nStatic;
  const toCurrent = acc.toCurrent / acc.nMoving;
  const toPrevious = acc.toPrevious / acc.nMoving;
  t.diagnostic(`static change raw ${rawStatic.toFixed(2)} smoothed ${smoothStatic.toFixed(2)}; moving error to current ${toCurrent.toFixed(2)}, to previous ${toPrevious.toFixed(2)}`);
  assert.ok(smoothStatic < rawStatic * 0.5, 'static regions flicker less');
  // Lag <= 1 frame: in moving regions the smoothed frame is the current frame (plus noise), not the last one.
  assert.ok(toCurrent < toPrevious / 2, 'moving regions follow the current frame');
  assert.ok(toCurrent < 8, 'moving regions carry about the noise level of error, not a blend of frames');
  assert.equal(smoother.stats().frames, FRAMES);
});

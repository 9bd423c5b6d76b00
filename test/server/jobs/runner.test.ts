/**
 * The video runner on real clips (H.264 MP4, VP9 WebM, MPEG-4 Part 2) with the `invert`
 * fixture model: every frame comes out, timestamps and duration survive (variable frame rate
 * too), the pictures are the inverse of the input after H.264, and sound is copied or
 * converted to AAC.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setFfmpegLogLevel } from '../../../server/codec/index.js';
import { createInferenceHost, type Generator, type InferenceHost } from '../../../server/inference/index.js';
import { probeVideo, translateVideo } from '../../../server/jobs/index.js';
import { JobCancelledError, installPolyfills } from '../../../server/shared/index.js';
import { FIXTURE_MODELS_DIR } from '../../helpers/paths.js';
import { CLIPS, fixtures, invertError, meanAbsDiff, median, readVideo, tempDir } from './helpers.js';

/**
 * Mean |output - (255 - input)| per 8-bit sample, on 96x54 area-averaged frames: one lossy
 * H.264 pass at ~0.12 bit/pixel plus YUV<->RGB round trips. A correct inverse measures 2-4;
 * the untransformed picture ~100.
 */
const MAX_INVERT_ERROR = 8;
const LIMITS = { maxWidthPx: 3840, maxHeightPx: 2160 };

let host: InferenceHost;
let invert: Generator;
let work: { dir: string; cleanup(): Promise<void> };

before(async () => {
  setFfmpegLogLevel('error');
  installPolyfills();
  host = createInferenceHost({ modelsDir: FIXTURE_MODELS_DIR, providers: ['cpu'], intraOpThreads: 1 });
  invert = await host.loadModel('invert');
  work = await tempDir();
});

after(async () => {
  await invert?.close();
  await host?.close();
  await work?.cleanup();
});

async function run(input: string, name: string, extra: Partial<Parameters<typeof translateVideo>[0]> = {}) {
  const probe = await probeVideo(input, LIMITS);
  const outputPath = path.join(work.dir, name);
  const result = await translateVideo({
    inputPath: input,
    outputPath,
    probe,
    generator: invert,
    smoothing: 0,
    // Native size: the model sees every pixel, so the comparison measures codec loss only.
    processingShortSidePx: 1080,
    ...extra,
  });
  return { probe, outputPath, result };
}

function assertSameTiming(t: { diagnostic(m: string): void }, input: Awaited<ReturnType<typeof readVideo>>, output: Awaited<ReturnType<typeof readVideo>>, fps: number) {
  assert.equal(output.frames.length, input.frames.length, 'frame count');
  const frameS = 1 / fps;
  assert.ok(Math.abs(output.durationS - input.durationS) <= frameS, `duration ${output.durationS} s vs input ${input.durationS} s`);
  const worst = Math.max(...input.ptsMs.map((p, i) => Math.abs(p - output.ptsMs[i]!)));
  t.diagnostic(`${output.frames.length} frames, duration ${output.durationS.toFixed(3)} s (input ${input.durationS.toFixed(3)} s), worst timestamp error ${worst.toFixed(2)} ms`);
  assert.ok(worst <= 1, `timestamps moved by up to ${worst} ms`);
}

function assertInverted(t: { diagnostic(m: string): void }, input: Awaited<ReturnType<typeof readVideo>>, output: Awaited<ReturnType<typeof readVideo>>) {
  const errors = input.frames.map((f, i) => invertError(f, output.frames[i]!));
  const control = input.frames.map((f, i) => meanAbsDiff(f, output.frames[i]!));
  t.diagnostic(`invert error median ${median(errors).toFixed(2)}, worst ${Math.max(...errors).toFixed(2)}; vs untransformed ${median(control).toFixed(1)}`);
  assert.ok(Math.max(...errors) < MAX_INVERT_ERROR, `worst frame is ${Math.max(...errors).toFixed(2)} from the inverse`);
  assert.ok(median(control) > 5 * MAX_INVERT_ERROR, 'the output is not just the input');
}

test('H.264 MP4: every frame inverted, same size, timing kept, H.264 with the index up front', async (t) => {
  const { outputPath, result } = await run(CLIPS.h264, 'h264.mp4');
  const input = await readVideo(CLIPS.h264);
  const output = await readVideo(outputPath);
  assert.equal(output.videoCodec, 'h264');
  assert.equal(output.width, 854);
  assert.equal(output.height, 480);
  assert.equal(result.frames, 50);
  assertSameTiming(t, input, output, 24);
  assertInverted(t, input, output);
  // faststart: the moov box comes before the media data.
  const head = readFileSync(outputPath).subarray(0, 64 * 1024).toString('latin1');
  assert.ok(head.indexOf('moov') >= 0 && head.indexOf('moov') < head.indexOf('mdat'), 'moov precedes mdat');
  assert.equal(output.audio, null);
});

test('VP9 WebM: frame count and duration kept', async (t) => {
  const { outputPath } = await run(CLIPS.vp9, 'vp9.mp4', { processingShortSidePx: 128 });
  const input = await readVideo(CLIPS.vp9);
  const output = await readVideo(outputPath);
  assertSameTiming(t, input, output, 24);
});

test('MPEG-4 Part 2: decoded, translated and re-encoded frame for frame', async (t) => {
  const { outputPath } = await run(CLIPS.mpeg4, 'mpeg4.mp4');
  const input = await readVideo(CLIPS.mpeg4);
  const output = await readVideo(outputPath);
  assert.equal(output.width, 288);
  assert.equal(output.height, 216);
  assertSameTiming(t, input, output, 30);
  assertInverted(t, input, output);
});

test('variable frame rate: each frame keeps its own timestamp', async (t) => {
  const vfr = await fixtures.vfrClip();
  const { outputPath } = await run(vfr, 'vfr.mp4', { processingShortSidePx: 128 });
  const input = await readVideo(vfr);
  const output = await readVideo(outputPath);
  const gaps = new Set(input.ptsMs.slice(1).map((p, i) => Math.round(p - input.ptsMs[i]!)));
  assert.ok(gaps.size >= 3, `the fixture is VFR (gaps ${[...gaps].join(', ')} ms)`);
  assertSameTiming(t, input, output, 1000 / 90);
});

test('sound: AAC is copied as it is, PCM (which MP4 cannot hold) is converted to AAC', async (t) => {
  for (const [clip, action] of [
    [await fixtures.aacClip(), 'copy'],
    [await fixtures.pcmClip(), 'aac'],
  ] as const) {
    const { outputPath, result, probe } = await run(clip, `audio-${action}.mp4`, { processingShortSidePx: 128 });
    assert.equal(probe.audio?.action, action);
    assert.equal(result.audio, action);
    const input = await readVideo(clip);
    const output = await readVideo(outputPath);
    assert.equal(output.frames.length, input.frames.length);
    assert.ok(input.audio && output.audio, 'both have sound');
    assert.equal(output.audio.codec, 'aac');
    assert.equal(output.audio.sampleRate, 44_100);
    t.diagnostic(`${action}: audio ${output.audio.durationS.toFixed(3)} s in ${output.audio.packets} packets (input ${input.audio.durationS.toFixed(3)} s, ${input.audio.packets})`);
    assert.ok(Math.abs(output.audio.durationS - input.audio.durationS) < 0.05, 'the whole sound track is there');
    if (action === 'copy') assert.equal(output.audio.packets, input.audio.packets);
  }
});

test('requested output size; one side given keeps the aspect ratio', async () => {
  const { outputPath, result } = await run(CLIPS.mpeg4, 'small.mp4', { outputSize: { width: 144 }, processingShortSidePx: 128 });
  assert.deepEqual([result.width, result.height], [144, 108]);
  const output = await readVideo(outputPath);
  assert.deepEqual([output.width, output.height, output.frames.length], [144, 108, 133]);
  const stretched = await run(CLIPS.mpeg4, 'wide.mp4', { outputSize: { width: 320, height: 120 }, processingShortSidePx: 128 });
  assert.deepEqual([stretched.result.width, stretched.result.height], [320, 120]);
});

test('cancel mid-run: stops with JobCancelledError and leaves no partial file', async () => {
  const controller = new AbortController();
  const outputPath = path.join(work.dir, 'cancelled.mp4');
  const probe = await probeVideo(CLIPS.mpeg4, LIMITS);
  await assert.rejects(
    translateVideo({
      inputPath: CLIPS.mpeg4,
      outputPath,
      probe,
      generator: invert,
      smoothing: 0.5,
      processingShortSidePx: 128,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.framesDone === 10) controller.abort(new JobCancelledError('test cancel'));
      },
    }),
    JobCancelledError,
  );
  assert.equal(existsSync(outputPath), false);
});

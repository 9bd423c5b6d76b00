/**
 * Section "pipeline": frames per second through the live stages (decode -> toRgb at the
 * processing size -> generator -> temporal smoothing -> fromRgb at stream size -> encode with the live codec)
 * on a real 854x480 H.264 clip, with the project's own codec/inference/temporal stages and no
 * network. Packets are demuxed once into memory, so file reading is not timed. Every frame is
 * processed (no latest-frame dropping): this measures throughput, the ceiling of a live stream.
 *
 * Variants, each a median over passes through the whole clip:
 * - serial: one frame at a time, every stage awaited in turn.
 * - overlap: the next frame's decode + toRgb run while the generator works (what the live
 *   session does once inference is in a worker: frames are decoded as they arrive).
 * - overlap+encode: additionally, frame N's encode (on libuv's thread pool) runs while
 *   the generator works on frame N+1.
 * - live: the live session's own FrameTranslator (server/translate/): frame N's
 *   smoothing, scale-up and encode all run while the generator works on frame N+1.
 * Each with the generator on the main thread and in the inference worker. model_only_fps is
 * the same generator, same size, same run, fed one decoded frame over and over for as many
 * frames as a pass has. Passes of all variants and of model-only are interleaved, so load from
 * elsewhere on the machine skews them alike.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { createRgbConverter, createVideoDecoder, createVideoEncoder, setFfmpegLogLevel } from '../../server/codec/index.js';
import type { VideoCodecName } from '../../server/contract/index.js';
import type { Generator } from '../../server/inference/index.js';
import { fitWithin, processingSize, type RgbImage } from '../../server/shared/index.js';
import { createTemporalSmoother } from '../../server/temporal/index.js';
import { FrameTranslator } from '../../server/translate/index.js';
import {
  MODES,
  defaultModel,
  hostFor,
  median,
  round,
  table,
  type BenchModel,
  type BenchOptions,
  type Mode,
} from './common.js';
import { CLIP_NAME, firstFrame, loadClip, type Clip } from './clip.js';
import { warm } from './model.js';

type Variant = 'serial' | 'overlap' | 'overlap+encode' | 'live';
const VARIANTS: readonly Variant[] = ['serial', 'overlap', 'overlap+encode', 'live'];

interface PassSetup {
  clip: Clip;
  gen: Generator;
  proc: { width: number; height: number };
  stream: { width: number; height: number };
  bitrateKbps: number;
  /** The live default (config VIDEO_CODEC), so the pipeline encodes as live sessions do. */
  codec: VideoCodecName;
  smoothing: number;
  frames: number;
}

/** One pass through the clip; resolves to the frames processed and the wall time. */
async function pass(variant: Variant, s: PassSetup): Promise<{ frames: number; ms: number; stageMs: Record<string, number> }> {
  await using decoder = createVideoDecoder({ codec: 'h264', extradata: s.clip.extradata });
  await using converter = createRgbConverter();
  await using encoder = createVideoEncoder({ codec: s.codec, width: s.stream.width, height: s.stream.height, fps: 30, bitrateKbps: s.bitrateKbps });
  const temporal = createTemporalSmoother({ strength: s.smoothing });
  const { width: pw, height: ph } = s.proc;
  // Four buffers: one being decoded into, one waiting, one in the generator, one being smoothed.
  const ring: RgbImage[] = [0, 1, 2, 3].map(() => ({ width: pw, height: ph, data: new Uint8Array(pw * ph * 3) }));
  const stage: Record<string, number[]> = { decode: [], toRgb: [], generator: [], temporal: [], fromRgb: [], encode: [] };
  const timed = variant === 'serial';
  const clock = (name: string, t0: number) => {
    if (timed) stage[name].push(performance.now() - t0);
  };

  let produced = 0;
  async function* frames(): AsyncGenerator<{ img: RgbImage; ptsMs: number }> {
    const take = (ptsMs: number, frame: Parameters<typeof converter.toRgb>[0]) => {
      const t = performance.now();
      const img = converter.toRgb(frame, pw, ph, ring[produced++ % ring.length]);
      clock('toRgb', t);
      return { img, ptsMs };
    };
    for (const p of s.clip.packets) {
      if (produced >= s.frames) return;
      const t = performance.now();
      const decoded = await decoder.decode(p.data, { keyframe: p.keyframe, ptsMs: p.ptsMs });
      clock('decode', t);
      // A decoded frame is valid only until the next decode call: convert before yielding.
      for (const d of decoded) if (produced < s.frames) yield take(d.ptsMs, d.frame);
    }
    for (const d of await decoder.flush()) if (produced < s.frames) yield take(d.ptsMs, d.frame);
  }

  let done = 0;
  let encoding: Promise<unknown> = Promise.resolve();
  const t0 = performance.now();
  const it = frames();
  let next = it.next();
  if (variant === 'live') {
    const errors: unknown[] = [];
    const translator = new FrameTranslator<number>({
      temporal,
      converter,
      encode: async (yuv, ptsMs) => {
        await encoder.encode(yuv, { ptsMs });
      },
      onError: (err) => errors.push(err),
    });
    for (;;) {
      const r = await next;
      if (r.done) break;
      next = it.next();
      const { img, ptsMs } = r.value;
      await translator.translate(s.gen, { img, streamWidth: s.stream.width, streamHeight: s.stream.height, meta: ptsMs });
      done++;
    }
    await translator.flush();
    if (errors.length) throw errors[0];
    return { frames: done, ms: performance.now() - t0, stageMs: {} };
  }
  for (;;) {
    const r = await next;
    if (r.done) break;
    const { img, ptsMs } = r.value;
    // serial pulls the next frame only after this one is sent; the others start it right away.
    if (variant !== 'serial') next = it.next();
    let t = performance.now();
    const out = await s.gen.run(img);
    clock('generator', t);
    t = performance.now();
    const smoothed = temporal.process(img, out);
    clock('temporal', t);
    // The converter reuses its yuv frame, so the previous encode must be done with it.
    await encoding;
    t = performance.now();
    const yuv = converter.fromRgb(smoothed, s.stream.width, s.stream.height);
    clock('fromRgb', t);
    t = performance.now();
    encoding = encoder.encode(yuv, { ptsMs });
    if (variant !== 'overlap+encode') {
      await encoding;
      clock('encode', t);
    }
    done++;
    if (variant === 'serial') next = it.next();
  }
  await encoding;
  const ms = performance.now() - t0;
  const stageMs: Record<string, number> = {};
  if (timed) for (const [k, v] of Object.entries(stage)) stageMs[k] = round(median(v), 2);
  return { frames: done, ms, stageMs };
}

/** JSON field names follow the figures' names in the performance issue. */
interface ResolutionResult {
  label: string;
  processing: string;
  stream: string;
  model_only_fps: Record<Mode, number>;
  /** Keyed "variant (generator thread)". */
  pipeline_fps: Record<string, number>;
  /** pipeline_fps / model_only_fps of the same generator thread. */
  pipeline_over_model_only: Record<string, number>;
  serial_stage_ms: Record<Mode, Record<string, number>>;
  passes: number;
  frames: number;
}

async function benchResolution(
  opts: BenchOptions,
  clip: Clip,
  model: BenchModel,
  label: string,
  shortSidePx: number,
): Promise<ResolutionResult> {
  const stream = fitWithin(clip.width, clip.height, opts.config.maxInputWidthPx, opts.config.maxInputHeightPx);
  const multiple = model.manifest?.input.sizeMultiple ?? 4;
  const proc = processingSize(stream.width, stream.height, shortSidePx, multiple);
  const result: ResolutionResult = {
    label,
    processing: `${proc.height}x${proc.width}`,
    stream: `${stream.height}x${stream.width}`,
    model_only_fps: { main: NaN, worker: NaN },
    pipeline_fps: {},
    pipeline_over_model_only: {},
    serial_stage_ms: { main: {}, worker: {} },
    passes: 0,
    frames: 0,
  };
  const hosts = MODES.map((mode) => hostFor(opts, mode, model.dir));
  try {
    const gens: Record<Mode, Generator> = { main: await hosts[0].loadModel(model.id), worker: await hosts[1].loadModel(model.id) };
    let warmMs = 0;
    for (const mode of MODES) warmMs = Math.max(warmMs, (await warm(gens[mode], proc)).warmMs);
    // The whole clip per pass while a pass stays under ~5 s, else fewer frames; 3 passes when
    // they are short, 2 otherwise, to keep the default bench within a few minutes on 2 cores.
    const fullPassMs = warmMs * clip.packets.length;
    const frames = opts.quick ? 10 : fullPassMs <= 5000 ? clip.packets.length : Math.max(10, Math.floor(5000 / warmMs));
    const passes = opts.quick ? 1 : frames * warmMs <= 3000 ? 3 : 2;
    result.passes = passes;
    result.frames = frames;

    // Model only: the generator fed one real decoded frame at the processing size, as many
    // times as a pass has frames. Its passes are interleaved with the pipeline's (pass 1 of
    // everything, then pass 2, ...) so that each ratio compares runs taken side by side.
    const first = await firstFrame(clip, proc);
    const modelOnly: Record<Mode, number[]> = { main: [], worker: [] };
    const fps: Record<string, number[]> = {};
    for (let i = 0; i < passes; i++) {
      for (const mode of MODES) {
        const t0 = performance.now();
        for (let f = 0; f < frames; f++) await gens[mode].run(first);
        modelOnly[mode].push((frames * 1000) / (performance.now() - t0));
        const setup: PassSetup = { clip, gen: gens[mode], proc, stream, bitrateKbps: opts.config.outputBitrateKbps, codec: opts.config.videoCodec, smoothing: opts.config.smoothing, frames };
        for (const variant of VARIANTS) {
          const key = `${variant} (${mode})`;
          opts.log(`pipeline ${label} ${proc.height}x${proc.width} ${key}: pass ${i + 1}/${passes}, ${frames} frames`);
          const r = await pass(variant, setup);
          if (r.frames !== frames) throw new Error(`pipeline ${key}: ${r.frames} frames out, expected ${frames}`);
          (fps[key] ??= []).push((r.frames * 1000) / r.ms);
          if (variant === 'serial') result.serial_stage_ms[mode] = r.stageMs;
        }
      }
    }
    for (const mode of MODES) {
      result.model_only_fps[mode] = round(median(modelOnly[mode]));
      for (const variant of VARIANTS) {
        const key = `${variant} (${mode})`;
        result.pipeline_fps[key] = round(median(fps[key]));
        result.pipeline_over_model_only[key] = round(median(fps[key]) / result.model_only_fps[mode], 2);
      }
    }
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
  }
  return result;
}

export async function benchPipeline(opts: BenchOptions): Promise<{ result: Record<string, unknown>; text: string }> {
  const file = path.join(opts.sharedDir, 'datasets', 'videos', CLIP_NAME);
  if (!existsSync(file)) {
    const note = `skipped: ${file} not found (set CYCLESTREAM_SHARED to the shared folder)`;
    return { result: { skipped: note }, text: `== pipeline\n  ${note}` };
  }
  const model = await defaultModel(opts);
  if ('error' in model) {
    const note = `skipped: no default model (${model.error})`;
    return { result: { skipped: note }, text: `== pipeline\n  ${note}` };
  }
  setFfmpegLogLevel('error');
  const clip = await loadClip(file);
  const resolutions: ResolutionResult[] = [];
  resolutions.push(await benchResolution(opts, clip, model, 'default processing size', opts.config.processingShortSidePx));
  resolutions.push(await benchResolution(opts, clip, model, 'full resolution', Math.min(clip.width, clip.height)));

  const rows: (string | number)[][] = [['processing HxW', 'variant', 'generator', 'pipeline fps', 'model-only fps', 'pipeline / model-only']];
  for (const r of resolutions) {
    for (const mode of MODES) {
      for (const v of VARIANTS) {
        const key = `${v} (${mode})`;
        rows.push([r.processing, v, mode, r.pipeline_fps[key], r.model_only_fps[mode], r.pipeline_over_model_only[key]]);
      }
    }
  }
  const stageRows: (string | number)[][] = [['processing HxW', 'generator', 'decode', 'toRgb', 'generator.run', 'temporal', 'fromRgb', 'encode']];
  for (const r of resolutions) {
    for (const mode of MODES) {
      const st = r.serial_stage_ms[mode];
      stageRows.push([r.processing, mode, st.decode, st.toRgb, st.generator, st.temporal, st.fromRgb, st.encode]);
    }
  }
  const text = [
    `== pipeline: ${CLIP_NAME} (${clip.height}x${clip.width} H.264, ${clip.packets.length} frames) -> ${opts.config.videoCodec.toUpperCase()} ${resolutions[0].stream}, model ${model.label}`,
    `  every frame processed; default processing size = short side ${opts.config.processingShortSidePx} (config), full = the clip's own size`,
    table(rows),
    '  serial pass, median ms per stage:',
    table(stageRows),
  ].join('\n');
  return {
    result: {
      clip: { file: CLIP_NAME, width: clip.width, height: clip.height, frames: clip.packets.length },
      model: model.id,
      resolutions,
    },
    text,
  };
}

/**
 * `npm run bench` section "jobs": how fast a video job runs, as a multiple of realtime
 * (seconds of video per second of wall clock), for the 854x480 DAVIS clips with the default
 * model, through the same runner the job queue uses (translateVideo: demux, decode, model at
 * the configured processing size, temporal smoothing, H.264 encode, MP4 mux). The model is
 * loaded once, as the server's generator pool keeps it; the upload probe is timed apart.
 * The `invert` fixture (an instant model) gives the runner's own ceiling for comparison.
 */
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setFfmpegLogLevel } from '../../server/codec/index.js';
import type { Generator } from '../../server/inference/index.js';
import { probeVideo, translateVideo, type VideoProbe } from '../../server/jobs/index.js';
import { processingSize } from '../../server/shared/index.js';
import { defaultModel, hostFor, median, repeat, round, type BenchOptions, type BenchModel } from './common.js';

/** The generator alone at the processing size the clips get: what the job speed is bounded by. */
async function modelOnlyMs(opts: BenchOptions, generator: Generator, probe: VideoProbe): Promise<number> {
  const proc = processingSize(probe.video.width, probe.video.height, opts.config.processingShortSidePx, generator.manifest.input.sizeMultiple);
  const img = { width: proc.width, height: proc.height, data: new Uint8Array(proc.width * proc.height * 3).fill(128) };
  await generator.warmup(proc.width, proc.height);
  const samples = await repeat(async () => void (await generator.run(img)), opts.quick ? { minReps: 3, maxReps: 3, budgetMs: 0 } : { minReps: 10, maxReps: 30, budgetMs: 5000 });
  return round(median(samples), 1);
}

interface ClipRow {
  clip: string;
  frames: number;
  duration_s: number;
  probe_ms: number;
  run_s: number;
  fps: number;
  x_realtime: number;
  runs: number;
}

async function benchModelOnClips(
  opts: BenchOptions,
  generator: Generator,
  clips: { file: string; probe: VideoProbe; probeMs: number }[],
  outDir: string,
  label: string,
): Promise<ClipRow[]> {
  const rows: ClipRow[] = [];
  for (const c of clips) {
    const out = path.join(outDir, `${path.basename(c.file, '.mp4')}-${generator.manifest.id}.mp4`);
    const run = () =>
      translateVideo({
        inputPath: c.file,
        outputPath: out,
        probe: c.probe,
        generator,
        smoothing: opts.config.smoothing,
        processingShortSidePx: opts.config.processingShortSidePx,
      }).then(() => undefined);
    // One untimed pass: ORT's first runs at a new size are slow, and the server's pool is warm.
    await run();
    const samples = await repeat(run, opts.quick ? { minReps: 1, maxReps: 1, budgetMs: 0 } : { minReps: 3, maxReps: 5, budgetMs: 30_000 });
    const runS = median(samples) / 1000;
    const row: ClipRow = {
      clip: path.basename(c.file),
      frames: c.probe.video.frames,
      duration_s: round(c.probe.durationS, 2),
      probe_ms: Math.round(c.probeMs),
      run_s: round(runS, 2),
      fps: round(c.probe.video.frames / runS, 1),
      x_realtime: round(c.probe.durationS / runS, 2),
      runs: samples.length,
    };
    opts.log(`jobs ${label} ${row.clip}: ${row.run_s} s (${row.x_realtime}x realtime, median of ${row.runs})`);
    rows.push(row);
  }
  return rows;
}

export async function benchJobs(opts: BenchOptions): Promise<Record<string, unknown>> {
  const videos = path.join(opts.sharedDir, 'datasets', 'videos');
  let files: string[];
  try {
    files = readdirSync(videos)
      .filter((f) => /^davis-.*\.mp4$/.test(f))
      .sort()
      .map((f) => path.join(videos, f));
  } catch {
    return { skipped: `${videos} not found (set CYCLESTREAM_SHARED to the shared folder)` };
  }
  if (files.length === 0) return { skipped: `no davis-*.mp4 clips in ${videos}` };

  const model: BenchModel | { error: string } = await defaultModel(opts);
  const modelNote =
    'error' in model
      ? `default model ${opts.config.defaultModel} not in ${opts.modelsDir} and no stand-in could be made (${model.error}); only the runner ceiling is measured`
      : model.standIn
        ? `default model ${opts.config.defaultModel} is not in ${opts.modelsDir}: measured with ${model.label}`
        : `${model.id} from ${model.dir}`;

  setFfmpegLogLevel('error');
  const limits = { maxWidthPx: opts.config.maxVideoWidthPx, maxHeightPx: opts.config.maxVideoHeightPx };
  const clips = [];
  for (const file of files) {
    const t0 = performance.now();
    const probe = await probeVideo(file, limits);
    clips.push({ file, probe, probeMs: performance.now() - t0 });
  }

  const outDir = await mkdtemp(path.join(os.tmpdir(), 'cyclestream-bench-jobs-'));
  const result: Record<string, unknown> = {
    clips: clips.map((c) => ({ file: path.basename(c.file), width: c.probe.video.width, height: c.probe.video.height, frames: c.probe.video.frames })),
    processing_short_side_px: opts.config.processingShortSidePx,
    smoothing: opts.config.smoothing,
    model: 'error' in model ? null : model.id,
    model_note: modelNote,
    batching: 'not measured: Generator.run takes one image per ORT run (the inference stage has no batch API)',
  };
  try {
    if (!('error' in model)) {
      await using host = hostFor(opts, 'worker', model.dir);
      const generator = await host.loadModel(model.id);
      try {
        const rows = await benchModelOnClips(opts, generator, clips, outDir, model.id);
        result.default_model = rows;
        result.median_x_realtime = round(median(rows.map((r) => r.x_realtime)), 2);
        result.model_only_ms_per_frame = await modelOnlyMs(opts, generator, clips[0]!.probe);
        result.job_ms_per_frame = round(median(rows.map((r) => (r.run_s * 1000) / r.frames)), 1);
      } finally {
        await generator.close();
      }
    }
    await using fixtures = hostFor(opts, 'worker', path.join(opts.repoRoot, 'test', 'fixtures', 'models'));
    const invert = await fixtures.loadModel('invert');
    try {
      const rows = await benchModelOnClips(opts, invert, clips, outDir, 'invert');
      result.runner_ceiling_invert_fixture = rows;
      result.runner_ceiling_median_x_realtime = round(median(rows.map((r) => r.x_realtime)), 2);
    } finally {
      await invert.close();
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
  return result;
}

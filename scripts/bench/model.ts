/**
 * Section "model": milliseconds per frame of each model at each size, through the server's own
 * generator (RGB in, RGB out, conversions included), on the main thread and in the inference
 * worker, the two interleaved run by run so that other load on the machine hits both alike.
 * Each size is warmed up twice before timing (ORT's first run at a new size costs 1-3x).
 */
import type { Generator } from '../../server/inference/index.js';
import {
  MODES,
  defaultModel,
  hostFor,
  interleaved,
  median,
  onePerArchitecture,
  round,
  shippedModels,
  sizeName,
  standInModel,
  table,
  testImage,
  type BenchModel,
  type BenchOptions,
  type Mode,
  type RepeatPolicy,
  type Size,
} from './common.js';

export interface ModelTiming {
  model: string;
  size: string;
  mode: Mode;
  /** Median wall time of generator.run (RGB -> RGB, everything the server pays per frame). */
  msPerFrame: number;
  /** Median of session.run alone, as the generator reports it. */
  sessionMs: number;
  fps: number;
  /** The first (cold) run at this size. */
  firstRunMs: number;
  reps: number;
}

/**
 * Repetitions for one timing cell, from the warm time of its slowest member: ~2 s of rounds,
 * 5..30 of them; 3 when a run takes over a second; quick: 2..5 within 0.5 s.
 */
export function policyFor(opts: BenchOptions, warmMs: number): RepeatPolicy {
  if (opts.quick) return { minReps: 2, maxReps: 5, budgetMs: 500 };
  if (warmMs > 1000) return { minReps: 3, maxReps: 3, budgetMs: 0 };
  return { minReps: 5, maxReps: 30, budgetMs: 2000 };
}

/** Two untimed runs at `size` (the first at a new size is slow); resolves to the cold and the warm run's ms. */
export async function warm(gen: Generator, size: Size): Promise<{ coldMs: number; warmMs: number }> {
  const t0 = performance.now();
  await gen.warmup(size.width, size.height);
  const t1 = performance.now();
  await gen.warmup(size.width, size.height);
  return { coldMs: t1 - t0, warmMs: performance.now() - t1 };
}

/**
 * Times generators on one image, interleaved run by run (see `interleaved`), each warmed up
 * first. Returns one ModelTiming per generator.
 */
export async function timeTogether(
  opts: BenchOptions,
  entries: readonly { gen: Generator; model: string; mode: Mode }[],
  size: Size,
): Promise<ModelTiming[]> {
  const img = testImage(size);
  const warmed: { coldMs: number; warmMs: number }[] = [];
  for (const e of entries) warmed.push(await warm(e.gen, size));
  const sessions = entries.map(() => [] as number[]);
  const samples = await interleaved(
    entries.map((e, i) => async () => {
      await e.gen.run(img);
      sessions[i].push(e.gen.stats().lastInferenceMs);
    }),
    policyFor(opts, Math.max(...warmed.map((w) => w.warmMs))),
  );
  return entries.map((e, i) => {
    const ms = median(samples[i]);
    return {
      model: e.model,
      size: sizeName(size),
      mode: e.mode,
      msPerFrame: round(ms),
      sessionMs: round(median(sessions[i])),
      fps: round(1000 / ms),
      firstRunMs: round(warmed[i].coldMs),
      reps: samples[i].length,
    };
  });
}

/**
 * Times `model` at each size in the given modes, the modes interleaved run by run; results are
 * cached for later sections of this run.
 */
export async function timeModel(opts: BenchOptions, model: BenchModel, modes: readonly Mode[], sizes: readonly Size[]): Promise<ModelTiming[]> {
  const key = (mode: Mode, s: Size) => `model:${model.dir}/${model.id}:${mode}:${sizeName(s)}`;
  const todo = sizes.filter((s) => modes.some((m) => !opts.cache.has(key(m, s))));
  if (todo.length) {
    const hosts = modes.map((mode) => hostFor(opts, mode, model.dir));
    try {
      const entries = [];
      for (const [i, mode] of modes.entries()) entries.push({ gen: await hosts[i].loadModel(model.id), model: model.id, mode });
      for (const size of todo) {
        opts.log(`model ${model.id} ${sizeName(size)} ${modes.join(' + ')}`);
        for (const t of await timeTogether(opts, entries, size)) opts.cache.set(key(t.mode, size), t);
      }
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  }
  return sizes.flatMap((s) => modes.map((m) => opts.cache.get(key(m, s)) as ModelTiming));
}

/** The models this section covers: shipped ones, plus stand-ins while the default is missing. */
export async function modelsToBench(opts: BenchOptions): Promise<{ models: BenchModel[]; notes: string[] }> {
  const notes: string[] = [];
  let models = await shippedModels(opts.modelsDir);
  if (models.length === 0) notes.push(`no models in ${opts.modelsDir}`);
  const def = await defaultModel(opts);
  if ('error' in def) notes.push(`default model ${opts.config.defaultModel}: not in ${opts.modelsDir}, and no stand-in (${def.error})`);
  else if (def.standIn) {
    notes.push(`default model ${opts.config.defaultModel} is not in ${opts.modelsDir}; timing random-weight stand-ins of the planned architectures`);
    const rt = await standInModel('fast16x6', opts.log);
    models = [...models, def, ...('error' in rt ? [] : [rt])];
  }
  if (opts.models.length) models = models.filter((m) => opts.models.includes(m.id));
  if (opts.onePerArchitecture) {
    const def = models.find((m) => m.id === opts.config.defaultModel);
    models = onePerArchitecture(def ? [def, ...models] : models);
  }
  return { models, notes };
}

export async function benchModel(opts: BenchOptions): Promise<{ result: Record<string, unknown>; text: string }> {
  const { models, notes } = await modelsToBench(opts);
  const timings: ModelTiming[] = [];
  for (const m of models) timings.push(...(await timeModel(opts, m, MODES, opts.sizes)));
  const rows: (string | number)[][] = [['model', 'HxW', 'main ms', 'worker ms', 'worker/main', 'session ms', 'fps (worker)', 'cold ms']];
  for (const m of models) {
    for (const s of opts.sizes) {
      const get = (mode: Mode) => timings.find((t) => t.model === m.id && t.size === sizeName(s) && t.mode === mode);
      const main = get('main');
      const worker = get('worker');
      rows.push([
        m.id,
        sizeName(s),
        main?.msPerFrame ?? NaN,
        worker?.msPerFrame ?? NaN,
        main && worker ? round(worker.msPerFrame / main.msPerFrame, 2) : NaN,
        worker?.sessionMs ?? NaN,
        worker?.fps ?? NaN,
        worker?.firstRunMs ?? NaN,
      ]);
    }
  }
  const legend = models.map((m) => `  ${m.label}${m.manifest ? `: ${m.manifest.architecture}, ${(m.manifest.macsAt256 / 1e9).toFixed(2)} G MACs at 256x256` : ''}`);
  const text = [
    '== model: ms per frame through the generator (median; RGB in -> RGB out)',
    ...notes.map((n) => `  note: ${n}`),
    ...legend,
    table(rows),
  ].join('\n');
  return {
    result: {
      models: models.map((m) => ({
        id: m.id,
        standIn: m.standIn,
        architecture: m.manifest?.architecture,
        params: m.manifest?.params,
        macsAt256: m.manifest?.macsAt256,
      })),
      timings,
      notes,
    },
    text,
  };
}

/**
 * Shared pieces of `npm run bench`: options, timing loops, the random-weight stand-in models,
 * generator loading with the server's settings, and table printing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../server/config.js';
import {
  createInferenceHost,
  listModels,
  type ExecutionProviderName,
  type InferenceHost,
  type ModelManifest,
} from '../../server/inference/index.js';
import type { RgbImage } from '../../server/shared/image.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** ../shared beside the checkout holds the datasets (as in test/helpers/paths.ts). */
export const SHARED_DIR = process.env.CYCLESTREAM_SHARED ?? path.resolve(REPO_ROOT, '../shared');
/** Generated, git-ignored files: the random-weight ONNX exports live here. */
export const ARTIFACTS_DIR = path.join(REPO_ROOT, 'test', '.artifacts');

export type Mode = 'main' | 'worker';
export const MODES: readonly Mode[] = ['main', 'worker'];

/** Height x width, as the bench names sizes (480x640 = VGA). */
export interface Size {
  readonly height: number;
  readonly width: number;
}
export const sizeName = (s: Size): string => `${s.height}x${s.width}`;

/** A model for the live section, and the page's "Model resolution" (short side px) to pick for it. */
export interface LiveModel {
  readonly id: string;
  /** Absent: the page's default, Auto (the server's size, or the model's cpuShortSidePx on a CPU). */
  readonly shortSidePx?: number;
}

/** What every section gets; scripts/bench/live.ts receives the same object. */
export interface BenchOptions {
  readonly config: Config;
  readonly modelsDir: string;
  /** Providers every generator is loaded with: the server's chain resolved once (see resolveProvider). */
  readonly providers: readonly ExecutionProviderName[];
  readonly intraOpThreads: number;
  /** Fewer repetitions, for a smoke run. */
  readonly quick: boolean;
  readonly sizes: readonly Size[];
  /** Restrict the model section to these ids (empty: all). */
  readonly models: readonly string[];
  /** Models the live section times (empty: the default model), each at a model resolution if given. */
  readonly liveModels: readonly LiveModel[];
  /** Time one model per architecture only (the default first): the others run at the same speed. */
  readonly onePerArchitecture: boolean;
  readonly json: boolean;
  /** Progress lines (stderr), never part of the results. */
  readonly log: (line: string) => void;
  readonly sharedDir: string;
  readonly repoRoot: string;
  /** Measurements already taken in this run, so later sections compare against the same numbers. */
  readonly cache: Map<string, unknown>;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const round = (v: number, digits = 1): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);

export interface RepeatPolicy {
  minReps: number;
  maxReps: number;
  /** Stop adding repetitions past minReps once this much time was spent. */
  budgetMs: number;
}

/** Runs `fn` repeatedly (minReps .. maxReps, within budgetMs) and returns each duration in ms. */
export async function repeat(fn: () => Promise<void>, p: RepeatPolicy): Promise<number[]> {
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < p.maxReps && (samples.length < p.minReps || performance.now() - start < p.budgetMs)) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

/**
 * Round-robin timing of several functions (one run of each per round), so that load from
 * anything else on the machine hits them all alike and their ratios stay meaningful. The
 * policy counts rounds; returns each function's durations in ms.
 */
export async function interleaved(fns: readonly (() => Promise<void>)[], p: RepeatPolicy): Promise<number[][]> {
  const samples = fns.map(() => [] as number[]);
  const start = performance.now();
  for (let rounds = 0; rounds < p.maxReps && (rounds < p.minReps || performance.now() - start < p.budgetMs); rounds++) {
    for (const [i, fn] of fns.entries()) {
      const t0 = performance.now();
      await fn();
      samples[i].push(performance.now() - t0);
    }
  }
  return samples;
}

/** A deterministic, textured test picture (speed does not depend on content, NaNs would). */
export function testImage(size: Size): RgbImage {
  const { width, height } = size;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 3) {
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = ((x ^ y) * 37) & 255;
    }
  }
  return { width, height, data };
}

/** A model the bench can load: models/<id>.json in `dir`. */
export interface BenchModel {
  readonly dir: string;
  readonly id: string;
  /** Shown in tables: the id, plus "(stand-in ...)" for random-weight exports. */
  readonly label: string;
  readonly manifest?: ModelManifest;
  readonly standIn: boolean;
}

/**
 * Random-weight exports of training/models.py presets (scripts/bench/make-reference.py). The
 * fast ones stand in for the shipped models until trained ones are in models/: fast32x9 is the
 * architecture training/gpu/run_all.sh trains as horse2zebra, fast16x6 the horse2zebra-rt one.
 */
export const STAND_INS = {
  resnet9: { id: 'resnet9-random', note: "the paper's ResNet-9 generator" },
  fast32x9: { id: 'fast32x9-random', note: 'stand-in for horse2zebra (same architecture, random weights)' },
  fast16x6: { id: 'fast16x6-random', note: 'stand-in for horse2zebra-rt (same architecture, random weights)' },
} as const;
export type StandInPreset = keyof typeof STAND_INS;

function run(cmd: string, args: string[], log: (l: string) => void): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) log(`  python: ${line}`);
    });
    child.on('error', (err) => resolve({ code: 127, out: err.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

/**
 * The random-weight export of `preset`, made on first use with scripts/python.mjs (a Python
 * that has torch) and cached in test/.artifacts. Resolves to null, with the reason logged,
 * when it cannot be made here.
 */
export async function standInModel(preset: StandInPreset, log: (l: string) => void): Promise<BenchModel | { error: string }> {
  const { id, note } = STAND_INS[preset];
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const onnx = path.join(ARTIFACTS_DIR, `${id}.onnx`);
  const json = path.join(ARTIFACTS_DIR, `${id}.json`);
  if (!existsSync(onnx) || !existsSync(json)) {
    log(`making ${path.relative(REPO_ROOT, onnx)} (random-weight ${preset}; once, cached)`);
    const r = await run(
      process.execPath,
      [path.join(REPO_ROOT, 'scripts', 'python.mjs'), path.join('scripts', 'bench', 'make-reference.py'), '--preset', preset, '--out', onnx, '--manifest', json, '--id', id],
      log,
    );
    if (r.code !== 0 || !existsSync(onnx)) return { error: `scripts/bench/make-reference.py --preset ${preset} failed (exit ${r.code})` };
  }
  const { models } = await listModels(ARTIFACTS_DIR);
  const manifest = models.find((m) => m.id === id);
  if (!manifest) return { error: `${json} is not a valid manifest` };
  return { dir: ARTIFACTS_DIR, id, label: `${id} (${note})`, manifest, standIn: true };
}

/** Shipped models in modelsDir (hidden ones only when nothing else is there). */
export async function shippedModels(modelsDir: string): Promise<BenchModel[]> {
  const { models } = await listModels(modelsDir);
  const visible = models.filter((m) => !m.hidden);
  return (visible.length ? visible : models).map((m) => ({ dir: modelsDir, id: m.id, label: m.id, manifest: m, standIn: false }));
}

/** config.defaultModel when it is in modelsDir, else the stand-in with its planned architecture. */
export async function defaultModel(opts: BenchOptions): Promise<BenchModel | { error: string }> {
  const key = 'default-model';
  const cached = opts.cache.get(key) as BenchModel | { error: string } | undefined;
  if (cached) return cached;
  const shipped = await shippedModels(opts.modelsDir);
  const found = shipped.find((m) => m.id === opts.config.defaultModel);
  const result = found ?? (await standInModel('fast32x9', opts.log));
  opts.cache.set(key, result);
  return result;
}

/** Keeps the first model of each architecture (order kept), plus models without a manifest. */
export function onePerArchitecture(models: readonly BenchModel[]): BenchModel[] {
  const out: BenchModel[] = [];
  for (const m of models) {
    if (!out.some((c) => c.id === m.id || (c.manifest && m.manifest && c.manifest.architecture === m.manifest.architecture))) out.push(m);
  }
  return out;
}

/** A host for the models in `dir` that loads them the way the server does (same providers, threads, session options). */
export function hostFor(opts: BenchOptions, mode: Mode, dir: string): InferenceHost {
  return createInferenceHost({ modelsDir: dir, providers: opts.providers, intraOpThreads: opts.intraOpThreads, worker: mode === 'worker' });
}

/**
 * Which provider the server's chain (config.providers) ends up on here, found once with the
 * invert fixture so the bench does not retry unavailable providers (and print their
 * adapter warnings) for every model it loads.
 */
export async function resolveProvider(config: Config): Promise<ExecutionProviderName> {
  await using host = createInferenceHost({
    modelsDir: path.join(REPO_ROOT, 'test', 'fixtures', 'models'),
    providers: config.providers,
    intraOpThreads: 1,
    worker: true,
  });
  const gen = await host.loadModel('invert');
  return gen.provider;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  onnxruntime: string;
  provider: ExecutionProviderName;
  intraOpThreads: number;
  /** 1-minute load average when the bench started: other work on the machine skews every figure. */
  loadAverage: number;
}

export function machineInfo(provider: ExecutionProviderName, intraOpThreads: number): MachineInfo {
  const ortPkg = createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string };
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: round(os.totalmem() / 2 ** 30, 0),
    node: process.version,
    onnxruntime: ortPkg.version,
    provider,
    intraOpThreads,
    loadAverage: round(os.loadavg()[0], 2),
  };
}

/** Plain-text table: first row is the header; numbers right-aligned. */
export function table(rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isFinite(c) ? String(c) : '-') : c)));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = cells[0].map((_, i) => rows.slice(1).every((r) => typeof r[i] === 'number' || r[i] === '-' || r[i] === undefined));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of cells.slice(1)) out.push(line(r));
  return out.join('\n');
}

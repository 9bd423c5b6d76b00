/**
 * `npm run bench`: how fast cyclestream's pieces are on this machine. Prints tables, or with
 * `--json` one JSON object on stdout (progress always goes to stderr). Every figure is a median
 * over repeated runs, and every ratio compares numbers measured in this same run.
 *
 *   npm run bench                                   all sections
 *   npm run bench -- --only model,reference         some sections
 *   npm run bench -- --json > bench.json
 *   npm run bench -- --models-dir test/fixtures/models --sizes 256x256
 *
 * Sections: model (ms per frame per model and size, main thread vs inference worker),
 * pipeline (decode -> translate -> smooth -> encode fps on a real clip), reference (the paper's
 * ResNet-9 and resnet9_ms / default_ms), jobs (video jobs as a multiple of realtime), live (scripts/bench/live.ts,
 * when present), viewers (WHEP viewers per stream against server CPU, and time to first frame),
 * cluster (scripts/bench/cluster.ts: jobs on 1 vs 2 nodes on Redis, Redis overhead, WHEP through a redirect). Generators load with the server's settings: config.providers resolved once,
 * graph optimisation "all", intraOpThreads = config (all cores by default).
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../server/config.js';
import { MODEL_ID_PATTERN } from '../server/inference/index.js';
import { installPolyfills } from '../server/shared/index.js';
import {
  REPO_ROOT,
  SHARED_DIR,
  machineInfo,
  resolveProvider,
  table,
  type BenchOptions,
  type LiveModel,
  type Size,
} from './bench/common.js';
import { benchModel } from './bench/model.js';
import { benchPipeline } from './bench/pipeline.js';
import { benchReference } from './bench/reference.js';
import { benchJobs } from './bench/jobs.js';
import { benchViewers, viewersText } from './bench/viewers.js';
import { benchCluster, clusterText } from './bench/cluster.js';

const SECTIONS = ['model', 'pipeline', 'reference', 'jobs', 'live', 'viewers', 'cluster'] as const;
type Section = (typeof SECTIONS)[number];
const DEFAULT_SIZES: Size[] = [
  { height: 256, width: 256 },
  { height: 256, width: 352 },
  { height: 480, width: 640 },
];

const HELP = `usage: npm run bench -- [options]
  --only a,b           sections to run: ${SECTIONS.join(', ')} (default: all)
  --json               print one JSON object instead of tables
  --models-dir DIR     where shipped models are (default: config modelsDir, models/)
  --model id,id        restrict the model section to these ids; the live section times these
                       instead of the default model
  --live-models id[@px],...
                       the live section times these, each with the page's model resolution set
                       to px when given (default: --model's ids, else the default model)
  --sizes HxW,HxW      model/reference sizes (default 256x256,256x352,480x640)
  --per-architecture   model section: one model per architecture (the others run at its speed)
  --quick              few repetitions (smoke test; numbers are rough)
Environment: CYCLESTREAM_SHARED (the shared datasets folder, default ../shared), and the
server's own settings (PROVIDERS, INTRA_OP_THREADS, PROCESSING_SHORT_SIDE_PX, DEFAULT_MODEL, ...).`;

interface Args {
  only: Section[] | null;
  json: boolean;
  modelsDir: string | null;
  models: string[];
  liveModels: LiveModel[];
  sizes: Size[];
  quick: boolean;
  perArchitecture: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { only: null, json: false, modelsDir: null, models: [], liveModels: [], sizes: DEFAULT_SIZES, quick: false, perArchitecture: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const list = () => value().split(',').map((s) => s.trim()).filter(Boolean);
    switch (flag) {
      case '--help':
      case '-h':
        console.log(HELP);
        process.exit(0);
      // falls through (process.exit never returns)
      case '--json':
        args.json = true;
        break;
      case '--quick':
        args.quick = true;
        break;
      case '--per-architecture':
        args.perArchitecture = true;
        break;
      case '--only': {
        const only = list();
        for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`unknown section ${s}; use ${SECTIONS.join(', ')}`);
        args.only = only as Section[];
        break;
      }
      case '--models-dir':
        args.modelsDir = path.resolve(value());
        break;
      case '--model':
        args.models = list();
        break;
      case '--live-models':
        args.liveModels = list().map((s) => {
          const [id = '', px, ...rest] = s.split('@');
          if (!MODEL_ID_PATTERN.test(id) || (px !== undefined && !/^\d+$/.test(px)) || rest.length) throw new Error(`live model ${s}: use id or id@px`);
          return { id, ...(px !== undefined ? { shortSidePx: Number(px) } : {}) };
        });
        break;
      case '--sizes':
        args.sizes = list().map((s) => {
          const m = /^(\d+)x(\d+)$/.exec(s);
          if (!m || Number(m[1]) % 4 || Number(m[2]) % 4) throw new Error(`size ${s}: use HxW, multiples of 4`);
          return { height: Number(m[1]), width: Number(m[2]) };
        });
        break;
      default:
        throw new Error(`unknown option ${flag}\n${HELP}`);
    }
  }
  return args;
}

async function benchLiveIfPresent(opts: BenchOptions): Promise<{ result: Record<string, unknown>; text: string }> {
  const file = path.join(REPO_ROOT, 'scripts', 'bench', 'live.ts');
  if (!existsSync(file)) {
    const note = 'skipped: scripts/bench/live.ts is not there yet';
    return { result: { skipped: note }, text: `== live\n  ${note}` };
  }
  const mod = (await import(pathToFileURL(file).href)) as { benchLive?: (o: BenchOptions) => Promise<Record<string, unknown>> };
  if (typeof mod.benchLive !== 'function') {
    const note = 'skipped: scripts/bench/live.ts exports no benchLive()';
    return { result: { skipped: note }, text: `== live\n  ${note}` };
  }
  const result = await mod.benchLive(opts);
  const lines: string[] = [];
  for (const [k, v] of Object.entries(result)) {
    // An array of flat records (benchLive's `rows`) reads best as a table.
    if (Array.isArray(v) && v.length && v.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
      const keys = [...new Set(v.flatMap((r) => Object.keys(r as object)))];
      const cell = (x: unknown) => (typeof x === 'number' ? x : x === undefined ? '-' : typeof x === 'object' ? JSON.stringify(x) : String(x));
      lines.push(table([keys, ...v.map((r) => keys.map((key) => cell((r as Record<string, unknown>)[key])))]));
    } else {
      lines.push(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    }
  }
  return { result, text: ['== live', ...lines].join('\n') };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // With --json, stdout carries the one JSON object only: libraries that print while a section
  // runs (Next.js announces its config when the web app mounts) go to stderr instead.
  const stdout = process.stdout.write.bind(process.stdout);
  if (args.json) process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  installPolyfills();
  // The server's settings, from the same environment variables the server reads.
  const config = loadConfig({ env: process.env, root: REPO_ROOT });
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const started = performance.now();
  log('resolving the execution provider chain once');
  const provider = await resolveProvider(config);
  const opts: BenchOptions = {
    config,
    modelsDir: args.modelsDir ?? config.modelsDir,
    providers: [provider],
    intraOpThreads: config.intraOpThreads,
    quick: args.quick,
    sizes: args.sizes,
    models: args.models,
    liveModels: args.liveModels.length ? args.liveModels : args.models.map((id) => ({ id })),
    onePerArchitecture: args.perArchitecture,
    json: args.json,
    log,
    sharedDir: SHARED_DIR,
    repoRoot: REPO_ROOT,
    cache: new Map(),
  };
  const machine = machineInfo(provider, config.intraOpThreads);
  const header = `cyclestream bench: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}, onnxruntime-node ${machine.onnxruntime}, provider ${provider} (chain ${config.providers.join(',')}), intraOpThreads ${config.intraOpThreads}${args.quick ? ', QUICK (rough numbers)' : ''}`;
  if (!args.json) console.log(header);
  if (machine.loadAverage > machine.cores / 2) {
    const warning = `load average ${machine.loadAverage} on ${machine.cores} cores: something else is running, figures will be low and noisy`;
    log(`WARNING: ${warning}`);
    if (!args.json) console.log(`WARNING: ${warning}`);
  }

  const wanted = args.only ?? [...SECTIONS];
  const results: Record<string, unknown> = {};
  const runners: Record<Section, () => Promise<{ result: Record<string, unknown>; text: string }>> = {
    model: () => benchModel(opts),
    pipeline: () => benchPipeline(opts),
    reference: () => benchReference(opts),
    jobs: async () => {
      const result = await benchJobs(opts);
      const rows = (result.default_model ?? []) as { clip: string; x_realtime: number; frames: number; run_s: number }[];
      const lines = rows.map((r) => `  ${r.clip.padEnd(32)} ${String(r.x_realtime).padStart(6)}x realtime  (${r.frames} frames in ${r.run_s} s)`);
      const text = [
        '== jobs: video-job speed as a multiple of realtime (854x480 clips, default model)',
        ...(result.skipped ? [`  skipped: ${String(result.skipped)}`] : lines),
        `  median ${String(result.median_x_realtime ?? '-')}x realtime; runner ceiling with the invert fixture ${String(result.runner_ceiling_median_x_realtime ?? '-')}x`,
      ].join('\n');
      return { result, text };
    },
    live: () => benchLiveIfPresent(opts),
    viewers: async () => {
      const result = await benchViewers(opts);
      return { result, text: viewersText(result) };
    },
    cluster: async () => {
      const result = await benchCluster(opts);
      return { result, text: clusterText(result) };
    },
  };
  let failed = 0;
  for (const section of SECTIONS) {
    if (!wanted.includes(section)) continue;
    const t0 = performance.now();
    try {
      const { result, text } = await runners[section]();
      results[section] = { ...result, seconds: Math.round((performance.now() - t0) / 100) / 10 };
      if (!args.json) console.log(`\n${text}`);
    } catch (err) {
      failed++;
      const message = err instanceof Error ? err.message : String(err);
      results[section] = { error: message };
      log(`section ${section} failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
      if (!args.json) console.log(`\n== ${section}\n  FAILED: ${message}`);
    }
  }
  const seconds = Math.round((performance.now() - started) / 1000);
  if (args.json) {
    const loadAverageEnd = Math.round(os.loadavg()[0] * 100) / 100;
    stdout(`${JSON.stringify({ machine: { ...machine, loadAverageEnd }, quick: args.quick, sections: wanted, ...results, seconds }, null, 2)}\n`);
  } else {
    console.log(`\ntotal ${seconds} s; load average ${machine.loadAverage} at start, ${Math.round(os.loadavg()[0] * 100) / 100} at end`);
  }
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});

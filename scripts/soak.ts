/**
 * `npm run soak -- --minutes 10`: the server under a steady mixed load for N minutes, measured
 * from inside its own process (the clients run in scripts/soak/load.ts, a child process): RSS,
 * V8 heap, open file descriptors and event-loop lag at the start, each minute and at the end.
 *
 * Pass when RSS at the end (the last minute under load) is at most 5% above its value at minute
 * 2, the descriptors are flat (the end within 3 of minute 1, after every client has connected),
 * no live session or job was lost (every socket.io session started, the WHIP stream and its 4
 * viewers lived to the end and kept receiving, every job ended done), and every live session,
 * peer connection and codec is freed once the clients leave (the jobs' warm model sessions close
 * on their own idle timer, so they are only reported).
 *
 *   npm run soak -- --minutes 10 [--model horse2zebra] [--models-dir models]
 * Set MALLOC_ARENA_MAX in the environment to compare glibc's allocator settings.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../server/config.js';
import { createApp } from '../server/app.js';
import { installCrashGuard, installPolyfills } from '../server/shared/index.js';
import { setFfmpegLogLevel } from '../server/codec/index.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const SHARED_DIR = process.env.CYCLESTREAM_SHARED ?? path.resolve(REPO_ROOT, '../shared');

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const minutes = Number(option('--minutes', '10'));
if (!Number.isFinite(minutes) || minutes < 1) throw new Error('--minutes must be 1 or more');

interface Sample {
  at: string;
  rssMb: number;
  heapUsedMb: number;
  fds: number;
  lagP99Ms: number;
  lagMaxMs: number;
  sessions: number;
  peers: number;
  codecs: number;
  modelSessions: number;
}

installPolyfills();
setFfmpegLogLevel('error');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cyclestream-soak-'));
const ingestToken = randomUUID();
const config = loadConfig({
  env: process.env,
  root: REPO_ROOT,
  overrides: {
    port: 0,
    host: '127.0.0.1',
    web: false,
    dataDir,
    ingestTokens: [ingestToken],
    // Every client is on loopback: the per-address caps would count them all as one.
    maxSessionsPerIp: 8,
    maxSessions: 8,
    ...(process.argv.includes('--models-dir') ? { modelsDir: path.resolve(option('--models-dir', '')) } : {}),
  },
});
const modelId = option('--model', config.defaultModel);
// The provider fallback (cuda, webgpu, cpu) warns at every model load; errors are what matter here.
const logger = pino({ level: process.env.LOG_LEVEL ?? 'error' });
const app = await createApp(config, logger);
const { url } = await app.listen();
const uninstallGuard = installCrashGuard(process, { logger, owners: app.owners, onFatal: () => process.exit(1) });

const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
function sample(at: string): Sample {
  const mem = process.memoryUsage();
  const h = app.health();
  const s: Sample = {
    at,
    rssMb: mb(mem.rss),
    heapUsedMb: mb(mem.heapUsed),
    fds: readdirSync('/proc/self/fd').length,
    lagP99Ms: Math.round(lag.percentile(99) / 1e5) / 10,
    lagMaxMs: Math.round(lag.max / 1e5) / 10,
    sessions: h.sessions,
    peers: h.openPeers,
    codecs: h.openCodecs,
    modelSessions: h.openModelSessions,
  };
  lag.reset();
  process.stderr.write(`soak ${at}: ${JSON.stringify(s)}\n`);
  return s;
}

process.stderr.write(`soak: ${minutes} min against ${url}, model ${modelId}, MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? 'unset'}\n`);
const samples: Sample[] = [sample('start')];
const child = spawn(
  process.execPath,
  ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'soak', 'load.ts'), '--url', url, '--token', ingestToken, '--minutes', String(minutes), '--clip', path.join(SHARED_DIR, 'datasets', 'videos', 'davis-horsejump-high.mp4'), '--model', modelId],
  { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
);
type Minute = { minute: number; viewerFrames: number[]; sessionsStarted: number; sessionsFailed: number; jobsUploaded: number };
type Summary = {
  whipAliveAtEnd: boolean;
  viewerFrames: number[];
  sessions: { started: number; failed: number; closedEarly: number; errors: string[] };
  jobs: { uploaded: number; states: Record<string, string>; errors: string[]; tokens: boolean };
};
const minutesSeen: Minute[] = [];
let summary: Summary | null = null;
for await (const line of createInterface({ input: child.stdout })) {
  const msg = JSON.parse(line) as { minute?: number; summary?: Summary };
  if (msg.summary) summary = msg.summary;
  else if (msg.minute !== undefined) {
    minutesSeen.push(msg as Minute);
    samples.push(sample(`minute ${msg.minute}`));
  }
}
const childCode = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
// The clients have left: give the server a moment to notice, then measure what is still held.
await new Promise((r) => setTimeout(r, 8000));
samples.push(sample('after'));

const at = (label: string) => samples.find((s) => s.at === label);
const minute2 = at('minute 2') ?? at(`minute ${minutes}`)!;
const minute1 = at('minute 1')!;
const end = at(`minute ${minutes}`)!;
const after = at('after')!;
const checks: [string, boolean, string][] = [];
const rssGrowth = (end.rssMb - minute2.rssMb) / minute2.rssMb;
checks.push(['RSS at the end within 5% of minute 2', rssGrowth <= 0.05, `${minute2.rssMb} -> ${end.rssMb} MB (${(rssGrowth * 100).toFixed(1)}%), ${after.rssMb} MB once the clients left`]);
checks.push(['file descriptors flat', end.fds <= minute1.fds + 3 && after.fds <= samples[0]!.fds + 3, `start ${samples[0]!.fds}, minute 1 ${minute1.fds}, end ${end.fds}, after ${after.fds}`]);
checks.push(['load process finished', childCode === 0 && summary !== null, `exit ${childCode}`]);
if (summary) {
  const viewersGrew = minutesSeen.length >= 2 ? summary.viewerFrames.every((f, i) => f > (minutesSeen.at(-2)?.viewerFrames[i] ?? 0)) : summary.viewerFrames.every((f) => f > 0);
  checks.push(['WHIP stream live to the end, 4 viewers kept receiving', summary.whipAliveAtEnd && summary.viewerFrames.length === 4 && viewersGrew, `viewer frames ${summary.viewerFrames.join(', ')}`]);
  checks.push(['no socket.io session lost', summary.sessions.failed === 0 && summary.sessions.closedEarly === 0 && summary.sessions.started > 0, `${summary.sessions.started} started, ${summary.sessions.failed} failed, ${summary.sessions.closedEarly} closed early ${summary.sessions.errors.slice(0, 3).join('; ')}`]);
  const states = Object.values(summary.jobs.states);
  checks.push(['no job lost', summary.jobs.uploaded > 0 && summary.jobs.errors.length === 0 && states.every((s) => s === 'done'), `${summary.jobs.uploaded} uploaded, states ${JSON.stringify(countBy(states))}${summary.jobs.tokens ? ' (job tokens)' : ''} ${summary.jobs.errors.slice(0, 3).join('; ')}`]);
}
checks.push(['live sessions, peers and codecs freed after the clients left', after.sessions === 0 && after.peers === 0 && after.codecs === 0, `sessions ${after.sessions}, peers ${after.peers}, codecs ${after.codecs} (model sessions ${after.modelSessions}: the jobs' warm pool)`]);

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

const cols: (keyof Sample)[] = ['at', 'rssMb', 'heapUsedMb', 'fds', 'lagP99Ms', 'lagMaxMs', 'sessions', 'peers', 'codecs', 'modelSessions'];
console.log(`\nsoak: ${minutes} min, model ${modelId}, MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? 'unset'}, node ${process.version}, ${os.availableParallelism()} cores\n`);
console.log(cols.join('\t'));
for (const s of samples) console.log(cols.map((c) => s[c]).join('\t'));
console.log('');
for (const [name, ok, detail] of checks) console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}: ${detail}`);
const passed = checks.every(([, ok]) => ok);
console.log(`\nsoak ${passed ? 'PASSED' : 'FAILED'}`);

uninstallGuard();
lag.disable();
await app.close();
rmSync(dataDir, { recursive: true, force: true });
process.exit(passed ? 0 : 1);

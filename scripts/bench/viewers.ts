/**
 * Viewers per stream against server CPU: headless Chromium publishes its fake camera (real
 * footage, 640x480) over WHIP with the default model; werift viewers in a separate process
 * (viewer-load.ts) join over WHEP in steps. For each step: the server process's CPU (every
 * thread: main, inference worker, codecs), model runs and encodes per second, and the frame
 * rate each viewer receives. Time to first frame is from a viewer's WHEP POST to its first
 * complete (key) frame.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { chromiumAvailable, launchChromium } from '../../test/helpers/browser.js';
import { startTestApp } from '../../test/helpers/app.js';
import { webcamClip } from '../../test/helpers/clips.js';
import { WHIP_CLIENT_SOURCE, type WhipClientWindow } from '../../test/web/whip-client.js';
import type { StreamSummary } from '../../server/contract/index.js';
import type { BenchOptions } from './common.js';

export interface ViewersRow {
  viewers: number;
  /** Server process CPU, percent of one core (2 cores = 200 %). */
  serverCpuPct: number;
  modelRunsPerS: number;
  encodedFps: number;
  /** Median over viewers of the frames each received per second. */
  viewerFpsMedian: number | null;
  viewerFpsMin: number | null;
}

class LoadClient {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;

  constructor(repoRoot: string, url: string, streamId: string) {
    this.#child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', 'bench', 'viewer-load.ts'), '--url', url, '--stream', streamId], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child.stderr.resume();
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async send<T>(cmd: Record<string, unknown>): Promise<T> {
    this.#child.stdin.write(`${JSON.stringify(cmd)}\n`);
    const { value, done } = await this.#lines.next();
    if (done) throw new Error('the viewer load process exited');
    const reply = JSON.parse(value as string) as T & { error?: string };
    if (reply.error) throw new Error(`viewer load: ${reply.error}`);
    return reply;
  }

  async close(): Promise<void> {
    await this.send({ cmd: 'quit' }).catch(() => undefined);
    this.#child.kill();
  }
}

function quantile(xs: number[], q: number): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

const round = (v: number) => Math.round(v * 10) / 10;

export async function benchViewers(opts: BenchOptions): Promise<Record<string, unknown>> {
  if (!chromiumAvailable()) return { skipped: '/usr/bin/chromium not installed' };
  const steps = opts.quick ? [0, 1, 4] : [0, 1, 2, 4, 8, 16];
  const windowS = opts.quick ? 3 : 6;
  const token = randomUUID();
  const model = opts.config.defaultModel;
  const srv = await startTestApp({
    modelsDir: opts.modelsDir,
    defaultModel: model,
    ingestTokens: [token],
    maxViewersPerStream: Math.max(...steps),
    intraOpThreads: opts.intraOpThreads,
    providers: [...opts.providers],
  });
  const browser = await launchChromium({ fakeCameraY4m: await webcamClip(640, 480) });
  let load: LoadClient | null = null;
  const rows: ViewersRow[] = [];
  const ttff: number[] = [];
  try {
    const page = await browser.newPage();
    // Any page on the server's origin: a secure context for getUserMedia, no web build needed.
    await page.goto(`${srv.url}/api/health`);
    await page.evaluate(WHIP_CLIENT_SOURCE);
    const streamId = await page.evaluate(([s, t, m]) => (window as unknown as WhipClientWindow).publish(s!, t!, m!, 640, 480), [srv.url, token, model]);
    opts.log(`viewers: stream ${streamId} (${model}) published from Chromium at 640x480`);
    load = new LoadClient(opts.repoRoot, srv.url, streamId);
    const summary = async () => (await (await fetch(`${srv.url}/api/streams/${streamId}`)).json()) as StreamSummary;
    let have = 0;
    for (const n of steps) {
      if (n > have) {
        const added = await load.send<{ ttffMs: number[] }>({ cmd: 'add', count: n - have });
        // The first viewer also wakes the idle model, so its time is not a typical join.
        ttff.push(...(have === 0 ? added.ttffMs.slice(1) : added.ttffMs));
        if (have === 0) opts.log(`viewers: first viewer's first frame after ${round(added.ttffMs[0]!)} ms`);
        have = n;
      }
      await new Promise((r) => setTimeout(r, 2000));
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const s0 = await summary();
      const f0 = (await load.send<{ frames: number[] }>({ cmd: 'frames' })).frames;
      await new Promise((r) => setTimeout(r, windowS * 1000));
      const cpu = process.cpuUsage(cpu0);
      const wallS = (performance.now() - t0) / 1000;
      const s1 = await summary();
      const f1 = (await load.send<{ frames: number[] }>({ cmd: 'frames' })).frames;
      const fps = f1.map((f, i) => (f - (f0[i] ?? 0)) / wallS);
      const row: ViewersRow = {
        viewers: n,
        serverCpuPct: round(((cpu.user + cpu.system) / 1e6 / wallS) * 100),
        modelRunsPerS: round((s1.modelRuns - s0.modelRuns) / wallS),
        encodedFps: round((s1.framesEncoded - s0.framesEncoded) / wallS),
        viewerFpsMedian: fps.length ? round(quantile(fps, 0.5)) : null,
        viewerFpsMin: fps.length ? round(Math.min(...fps)) : null,
      };
      opts.log(`viewers ${n}: server CPU ${row.serverCpuPct} %, ${row.modelRunsPerS} model runs/s, ${row.encodedFps} encoded fps, viewers ${row.viewerFpsMedian ?? '-'} fps`);
      rows.push(row);
    }
  } finally {
    await load?.close();
    await browser.close();
    await srv.close();
  }
  const one = rows.find((r) => r.viewers === 1);
  const most = rows[rows.length - 1];
  const perViewer = one && most && most.viewers > 1 ? round((most.serverCpuPct - one.serverCpuPct) / (most.viewers - 1)) : null;
  return {
    model,
    rows,
    cpu_pct_per_extra_viewer: perViewer,
    ttff_median_ms: round(quantile(ttff, 0.5)),
    ttff_p90_ms: round(quantile(ttff, 0.9)),
    ttff_samples: ttff.length,
    note: 'server CPU is the server process only (100 % = one core); the Chromium publisher and the viewer process share the same 2 cores',
  };
}

export function viewersText(result: Record<string, unknown>): string {
  if (result.skipped) return `== viewers\n  skipped: ${String(result.skipped)}`;
  const rows = result.rows as ViewersRow[];
  const lines = rows.map(
    (r) =>
      `  ${String(r.viewers).padStart(3)} viewers  server CPU ${String(r.serverCpuPct).padStart(6)} %  model ${String(r.modelRunsPerS).padStart(5)} runs/s  encoded ${String(r.encodedFps).padStart(5)} fps  each viewer ${r.viewerFpsMedian ?? '-'} fps (min ${r.viewerFpsMin ?? '-'})`,
  );
  return [
    `== viewers: one WHIP stream (${String(result.model)}, 640x480 from Chromium) fanned out to N WHEP viewers`,
    ...lines,
    `  CPU per extra viewer ${String(result.cpu_pct_per_extra_viewer ?? '-')} % of a core; time to first frame for a new viewer: median ${String(result.ttff_median_ms)} ms, p90 ${String(result.ttff_p90_ms)} ms (${String(result.ttff_samples)} joins)`,
    `  ${String(result.note)}`,
  ].join('\n');
}


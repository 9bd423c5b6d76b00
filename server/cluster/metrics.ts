/**
 * What a node exports to Prometheus (GET /metrics), per node: live sessions, streams and
 * viewers, frames in and out per second, model latency, the job queue, job durations and
 * failures, the ORT providers in use, and prom-client's default process metrics (event-loop
 * lag among them). Gauges are read from the stages when scraped; only model runs and job ends
 * are observed as they happen. One registry per app: no global state.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Generator, InferenceHost } from '../inference/index.js';
import type { JobInfo } from '../contract/index.js';

/** What the metrics read from the live side when scraped. */
export interface LiveSource {
  all(): readonly {
    source: string;
    backend: string;
    stats(): { fpsIn: number; fpsOut: number };
    viewerStats(): readonly unknown[];
  }[];
}

export interface MetricsSources {
  nodeId: string;
  live: LiveSource;
  queueDepth(): Promise<number>;
}

export interface NodeMetrics {
  readonly registry: Registry;
  /** The host, with every model run timed into the latency histogram. */
  timeHost(host: InferenceHost): InferenceHost;
  /** A job changed state (the app's onUpdate): ends are counted and timed. */
  jobUpdated(job: JobInfo): void;
  text(): Promise<string>;
  readonly contentType: string;
}

export function createNodeMetrics(src: MetricsSources): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: src.nodeId });
  collectDefaultMetrics({ register: registry, prefix: 'cyclestream_' });
  const sessions = () => src.live.all();
  const sum = (f: (s: ReturnType<LiveSource['all']>[number]) => number) => sessions().reduce((a, s) => a + f(s), 0);

  new Gauge({ name: 'cyclestream_sessions', help: 'Live sessions (webcam and WHIP) on this node', registers: [registry], collect() { this.set(sessions().length); } });
  new Gauge({
    name: 'cyclestream_streams',
    help: 'WHIP streams published to this node',
    registers: [registry],
    collect() {
      this.set(sessions().filter((s) => s.source === 'whip').length);
    },
  });
  new Gauge({ name: 'cyclestream_viewers', help: 'WHEP viewers connected to this node', registers: [registry], collect() { this.set(sum((s) => s.viewerStats().length)); } });
  new Gauge({ name: 'cyclestream_frames_in_per_second', help: 'Frames decoded per second, over every live session', registers: [registry], collect() { this.set(sum((s) => s.stats().fpsIn)); } });
  new Gauge({ name: 'cyclestream_frames_out_per_second', help: 'Frames sent per second, over every live session', registers: [registry], collect() { this.set(sum((s) => s.stats().fpsOut)); } });
  new Gauge({
    name: 'cyclestream_ort_provider_sessions',
    help: 'Live sessions by the ONNX Runtime execution provider their model runs on',
    labelNames: ['provider'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sessions()) this.inc({ provider: s.backend });
    },
  });
  new Gauge({
    name: 'cyclestream_job_queue_depth',
    help: 'Video jobs waiting for a worker (over the cluster in cluster mode)',
    registers: [registry],
    async collect() {
      // Redis down: the depth is unknown; the gauge keeps its last value and health says why.
      this.set(await src.queueDepth().catch(() => NaN));
    },
  });
  const modelSeconds = new Histogram({
    name: 'cyclestream_model_run_seconds',
    help: 'One generator run (one frame), by model and provider',
    labelNames: ['model', 'provider'],
    buckets: [0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 3],
    registers: [registry],
  });
  const jobSeconds = new Histogram({
    name: 'cyclestream_job_duration_seconds',
    help: 'Video jobs run to the end, from start to done, on the node that ran them',
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [registry],
  });
  const jobFailures = new Counter({ name: 'cyclestream_job_failures_total', help: 'Video jobs that failed, by error code', labelNames: ['code'], registers: [registry] });

  const timeGenerator = (gen: Generator): Generator => ({
    get manifest() {
      return gen.manifest;
    },
    get provider() {
      return gen.provider;
    },
    run: async (img) => {
      const end = modelSeconds.startTimer({ model: gen.manifest.id, provider: gen.provider });
      try {
        return await gen.run(img);
      } finally {
        end();
      }
    },
    warmup: (w, h) => gen.warmup(w, h),
    stats: () => gen.stats(),
    close: () => gen.close(),
    [Symbol.asyncDispose]: () => gen.close(),
  });

  return {
    registry,
    contentType: registry.contentType,
    timeHost: (host) => ({
      loadModel: async (id) => timeGenerator(await host.loadModel(id)),
      openSessions: () => host.openSessions(),
      modelRuns: () => host.modelRuns(),
      close: () => host.close(),
      [Symbol.asyncDispose]: () => host.close(),
    }),
    jobUpdated: (job) => {
      if (job.state === 'failed') jobFailures.inc({ code: job.error?.code ?? 'UNKNOWN' });
      if (job.state === 'done' && job.startedAt && job.finishedAt) jobSeconds.observe((Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000);
    },
    text: () => registry.metrics(),
  };
}

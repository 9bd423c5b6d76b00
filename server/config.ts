/**
 * The only place that reads the environment and the command line. Everything else takes a
 * `Config` (or a slice of it) as a parameter, so tests build their own without touching
 * process.env.
 */
import path from 'node:path';
import os from 'node:os';
import { z } from 'zod';
import { ConfigError } from './shared/errors.js';

const providerSchema = z.enum(['cuda', 'webgpu', 'cpu']);
export type Provider = z.infer<typeof providerSchema>;

const iceServerSchema = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});

const configSchema = z.object({
  port: z.number().int().min(0).max(65535),
  /** Empty string: every interface, the Node default. */
  host: z.string(),
  modelsDir: z.string().min(1),
  defaultModel: z.string().min(1),
  /** Also list manifests marked hidden (test fixtures). */
  showHiddenModels: z.boolean(),
  maxSessions: z.number().int().min(1).max(64),
  providers: z.array(providerSchema).min(1),
  intraOpThreads: z.number().int().min(1).max(256),
  processingShortSidePx: z.number().int().min(64).max(1080),
  smoothing: z.number().min(0).max(1),
  maxInputWidthPx: z.number().int().min(16),
  maxInputHeightPx: z.number().int().min(16),
  videoCodec: z.enum(['vp8', 'h264']),
  outputBitrateKbps: z.number().int().min(100).max(50_000),
  browserMinBitrateKbps: z.number().int().min(100),
  browserStartBitrateKbps: z.number().int().min(100),
  browserMaxBitrateKbps: z.number().int().min(100),
  iceServers: z.array(iceServerSchema),
  iceHostAddresses: z.array(z.string()),
  idleTimeoutMs: z.number().int().min(1000),
  jitterLatencyMs: z.number().int().min(0).max(2000),
  /** Serve the Next.js app; off in tests that only need the API. */
  web: z.boolean(),
  webDir: z.string(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  /** Video jobs: the SQLite job store, uploads and results live here. */
  dataDir: z.string().min(1),
  /** Largest accepted upload (video or image); a bigger one is cut off mid-transfer. */
  maxUploadMb: z.number().min(0.01).max(100_000),
  /** Video jobs run at the same time (on this node). 0, in a cluster only: a node that takes jobs in and runs none. */
  jobConcurrency: z.number().int().min(0).max(16),
  /** Finished, failed and cancelled jobs (with their files) are deleted this long after they end. */
  jobTtlHours: z.number().min(0.01).max(24 * 365),
  /** Uploaded video frame limits; a portrait video may use them either way round. */
  maxVideoWidthPx: z.number().int().min(16).max(16_384),
  maxVideoHeightPx: z.number().int().min(16).max(16_384),
  /** Largest image (width x height) the image route decodes. */
  maxImagePixels: z.number().int().min(256).max(1_000_000_000),
  /** Bearer tokens a WHIP publisher must send; empty switches WHIP ingest off (403). */
  ingestTokens: z.array(z.string().min(8)),
  /** When set, WHEP playback and stream status need one of these (header, or ?token= for iframes). */
  viewerTokens: z.array(z.string().min(8)),
  /** When set, GET /api/streams needs one of these. */
  operatorTokens: z.array(z.string().min(8)),
  /** Origins allowed to embed the player (CSP frame-ancestors, and CORS for WHEP); '*' = any. */
  embedOrigins: z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, "must be '*' or an origin like https://example.com")),
  maxViewersPerStream: z.number().int().min(1).max(1000),
  /** Live streams and jobs of one model share a session and batch their frames: 'auto' = on GPU providers. */
  batchAcrossStreams: z.enum(['auto', 'on', 'off']),
  maxBatch: z.number().int().min(1).max(64),
  /** 'auto': a model's fp16 copy on GPU providers when its manifest lists one; 'fp32' or 'fp16' everywhere. */
  modelPrecision: z.enum(['auto', 'fp32', 'fp16']),

  // Jobs, uploads and images: limits on what an anonymous client can make the server do.
  /** Longest video a job takes, by the container's duration. */
  maxJobDurationS: z.number().min(1).max(24 * 3600),
  /** Most video frames a job takes (header count, else duration x frame rate, then the packets read). */
  maxJobFrames: z.number().int().min(1).max(10_000_000),
  /** Jobs queued or running at once, over every client; more get 503 with Retry-After. */
  maxQueuedJobs: z.number().int().min(1).max(100_000),
  /** Jobs queued or running at once from one client address; more get 429 with Retry-After. */
  maxQueuedJobsPerClient: z.number().int().min(1).max(100_000),
  /** Job tokens one request may present (X-Job-Tokens) and jobs one socket may watch. */
  maxJobTokensPerRequest: z.number().int().min(1).max(10_000),
  /** Widest image aspect ratio (long side / short side) the image route decodes. */
  maxImageAspectRatio: z.number().min(1).max(10_000),
  /** Image translations running at once; they share warm generators. */
  maxConcurrentImages: z.number().int().min(1).max(64),
  /** Image translations waiting for a turn; past this, 503 with Retry-After. */
  maxQueuedImages: z.number().int().min(0).max(1000),
  // --- Live sessions, signaling and connections: limits and exposure (issue 12 §3) ---
  /** Origin (and optional path) clients reach the server at; absolute links use it. '' = links stay relative. */
  publicUrl: z.union([z.literal(''), z.string().regex(/^https?:\/\/[^/\s]+(\/\S*)?$/, 'must be an http(s) URL like https://example.com')]),
  /** Origins besides the server's own whose pages may open socket.io connections (e.g. a dev server). */
  appOrigins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin like https://example.com')),
  /** SDP offers (socket.io, WHIP, WHEP) and ICE fragments (WHIP PATCH) are refused above these, before parsing. */
  maxSdpBytes: z.number().int().min(1024).max(1_000_000),
  maxSdpMediaSections: z.number().int().min(1).max(64),
  maxSdpFormatsPerSection: z.number().int().min(1).max(128),
  maxSdpAttributeLines: z.number().int().min(16).max(10_000),
  maxSdpLineBytes: z.number().int().min(256).max(65_536),
  /** In the offer and trickled afterwards (session:ice, WHIP PATCH), together. */
  maxIceCandidatesPerSession: z.number().int().min(1).max(1000),
  /** Live sessions (webcam and WHIP) starting or running per client IP address. */
  maxSessionsPerIp: z.number().int().min(1).max(64),
  /** socket.io connections per client IP address. */
  maxSocketsPerIp: z.number().int().min(1).max(10_000),
  /** Events one socket.io connection may send per second (bursts of twice that); the rest are refused. */
  maxSocketEventsPerS: z.number().min(1).max(10_000),
  /** Server-sent event connections (GET /api/streams/:id/events). */
  maxSseConnectionsPerStream: z.number().int().min(1).max(10_000),
  maxSseConnectionsPerIp: z.number().int().min(1).max(10_000),
  // --- Cluster mode (issue 13): several nodes on one Redis ---
  /** redis://host:port; '' = a single node with the embedded SQLite queue. */
  redisUrl: z.union([z.literal(''), z.string().regex(/^rediss?:\/\/\S+$/, 'must be a redis:// URL')]),
  /** This node's name in health, metrics and logs. */
  nodeId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash and underscore, up to 64'),
  /** A job whose worker has not renewed its lock for this long is taken over by another node. */
  jobStalledMs: z.number().int().min(500).max(600_000),
  /** A stream's entry in the registry lives this long unless its node refreshes it (every third of it). */
  streamTtlMs: z.number().int().min(300).max(600_000),
});

export type Config = Readonly<z.infer<typeof configSchema>>;

interface KeySpec {
  /** Environment variable; the CLI flag is its kebab-case form (`MAX_SESSIONS` -> `--max-sessions`). */
  env: string;
  key: keyof z.infer<typeof configSchema>;
  parse: (raw: string) => unknown;
}

const int = (raw: string) => {
  if (!/^-?\d+$/.test(raw.trim())) throw new Error(`expected an integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
};
const num = (raw: string) => {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`expected a number, got ${JSON.stringify(raw)}`);
  return n;
};
const bool = (raw: string) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new Error(`expected true or false, got ${JSON.stringify(raw)}`);
};
const list = (raw: string) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const json = (raw: string) => {
  try {
    return JSON.parse(raw);
  } catch {
    throw new Error('expected JSON');
  }
};
const str = (raw: string) => raw;

const KEYS: KeySpec[] = [
  { env: 'PORT', key: 'port', parse: int },
  { env: 'HOST', key: 'host', parse: str },
  { env: 'MODELS_DIR', key: 'modelsDir', parse: str },
  { env: 'DEFAULT_MODEL', key: 'defaultModel', parse: str },
  { env: 'SHOW_HIDDEN_MODELS', key: 'showHiddenModels', parse: bool },
  { env: 'MAX_SESSIONS', key: 'maxSessions', parse: int },
  { env: 'PROVIDERS', key: 'providers', parse: list },
  { env: 'INTRA_OP_THREADS', key: 'intraOpThreads', parse: int },
  { env: 'PROCESSING_SHORT_SIDE_PX', key: 'processingShortSidePx', parse: int },
  { env: 'SMOOTHING', key: 'smoothing', parse: num },
  { env: 'MAX_INPUT_WIDTH_PX', key: 'maxInputWidthPx', parse: int },
  { env: 'MAX_INPUT_HEIGHT_PX', key: 'maxInputHeightPx', parse: int },
  { env: 'VIDEO_CODEC', key: 'videoCodec', parse: str },
  { env: 'OUTPUT_BITRATE_KBPS', key: 'outputBitrateKbps', parse: int },
  { env: 'BROWSER_MIN_BITRATE_KBPS', key: 'browserMinBitrateKbps', parse: int },
  { env: 'BROWSER_START_BITRATE_KBPS', key: 'browserStartBitrateKbps', parse: int },
  { env: 'BROWSER_MAX_BITRATE_KBPS', key: 'browserMaxBitrateKbps', parse: int },
  { env: 'ICE_SERVERS', key: 'iceServers', parse: json },
  { env: 'ICE_HOST_ADDRESSES', key: 'iceHostAddresses', parse: list },
  { env: 'IDLE_TIMEOUT_MS', key: 'idleTimeoutMs', parse: int },
  { env: 'JITTER_LATENCY_MS', key: 'jitterLatencyMs', parse: int },
  { env: 'WEB', key: 'web', parse: bool },
  { env: 'WEB_DIR', key: 'webDir', parse: str },
  { env: 'LOG_LEVEL', key: 'logLevel', parse: str },
  { env: 'DATA_DIR', key: 'dataDir', parse: str },
  { env: 'MAX_UPLOAD_MB', key: 'maxUploadMb', parse: num },
  { env: 'JOB_CONCURRENCY', key: 'jobConcurrency', parse: int },
  { env: 'JOB_TTL_HOURS', key: 'jobTtlHours', parse: num },
  { env: 'MAX_VIDEO_WIDTH_PX', key: 'maxVideoWidthPx', parse: int },
  { env: 'MAX_VIDEO_HEIGHT_PX', key: 'maxVideoHeightPx', parse: int },
  { env: 'MAX_IMAGE_PIXELS', key: 'maxImagePixels', parse: int },
  { env: 'INGEST_TOKENS', key: 'ingestTokens', parse: list },
  { env: 'VIEWER_TOKENS', key: 'viewerTokens', parse: list },
  { env: 'OPERATOR_TOKENS', key: 'operatorTokens', parse: list },
  { env: 'EMBED_ORIGINS', key: 'embedOrigins', parse: list },
  { env: 'MAX_VIEWERS_PER_STREAM', key: 'maxViewersPerStream', parse: int },
  { env: 'BATCH_ACROSS_STREAMS', key: 'batchAcrossStreams', parse: str },
  { env: 'MAX_BATCH', key: 'maxBatch', parse: int },
  { env: 'MODEL_PRECISION', key: 'modelPrecision', parse: str },
  { env: 'MAX_JOB_DURATION_S', key: 'maxJobDurationS', parse: num },
  { env: 'MAX_JOB_FRAMES', key: 'maxJobFrames', parse: int },
  { env: 'MAX_QUEUED_JOBS', key: 'maxQueuedJobs', parse: int },
  { env: 'MAX_QUEUED_JOBS_PER_CLIENT', key: 'maxQueuedJobsPerClient', parse: int },
  { env: 'MAX_JOB_TOKENS_PER_REQUEST', key: 'maxJobTokensPerRequest', parse: int },
  { env: 'MAX_IMAGE_ASPECT_RATIO', key: 'maxImageAspectRatio', parse: num },
  { env: 'MAX_CONCURRENT_IMAGES', key: 'maxConcurrentImages', parse: int },
  { env: 'MAX_QUEUED_IMAGES', key: 'maxQueuedImages', parse: int },
  // Live sessions, signaling and connections (issue 12 §3).
  { env: 'PUBLIC_URL', key: 'publicUrl', parse: (raw) => raw.trim().replace(/\/+$/, '') },
  { env: 'APP_ORIGINS', key: 'appOrigins', parse: list },
  { env: 'MAX_SDP_BYTES', key: 'maxSdpBytes', parse: int },
  { env: 'MAX_SDP_MEDIA_SECTIONS', key: 'maxSdpMediaSections', parse: int },
  { env: 'MAX_SDP_FORMATS_PER_SECTION', key: 'maxSdpFormatsPerSection', parse: int },
  { env: 'MAX_SDP_ATTRIBUTE_LINES', key: 'maxSdpAttributeLines', parse: int },
  { env: 'MAX_SDP_LINE_BYTES', key: 'maxSdpLineBytes', parse: int },
  { env: 'MAX_ICE_CANDIDATES_PER_SESSION', key: 'maxIceCandidatesPerSession', parse: int },
  { env: 'MAX_SESSIONS_PER_IP', key: 'maxSessionsPerIp', parse: int },
  { env: 'MAX_SOCKETS_PER_IP', key: 'maxSocketsPerIp', parse: int },
  { env: 'MAX_SOCKET_EVENTS_PER_S', key: 'maxSocketEventsPerS', parse: num },
  { env: 'MAX_SSE_CONNECTIONS_PER_STREAM', key: 'maxSseConnectionsPerStream', parse: int },
  { env: 'MAX_SSE_CONNECTIONS_PER_IP', key: 'maxSseConnectionsPerIp', parse: int },
  // Cluster mode (issue 13).
  { env: 'REDIS_URL', key: 'redisUrl', parse: str },
  { env: 'NODE_ID', key: 'nodeId', parse: str },
  { env: 'JOB_STALLED_MS', key: 'jobStalledMs', parse: int },
  { env: 'STREAM_TTL_MS', key: 'streamTtlMs', parse: int },
];

export function defaultConfig(root: string = process.cwd()): z.infer<typeof configSchema> {
  return {
    port: 3000,
    host: '',
    modelsDir: path.join(root, 'models'),
    defaultModel: 'horse2zebra',
    showHiddenModels: false,
    maxSessions: 4,
    providers: ['cuda', 'webgpu', 'cpu'],
    // Leave a core to decoding, smoothing and encoding, which overlap the model run; the realtime
    // models gain almost nothing from a second thread (bench: 32.1 vs 32.7 model fps on 2 cores).
    intraOpThreads: Math.max(1, Math.min(4, os.availableParallelism() - 1)),
    processingShortSidePx: 256,
    smoothing: 0.5,
    maxInputWidthPx: 1920,
    maxInputHeightPx: 1080,
    // Preferred when the browser offers both: x264 ultrafast encodes a 640x480 frame in about half
    // libvpx's time here (bench: live 640x480 server-added latency p50 34 ms vs 76 ms with VP8).
    videoCodec: 'h264',
    outputBitrateKbps: 1500,
    browserMinBitrateKbps: 600,
    browserStartBitrateKbps: 1500,
    browserMaxBitrateKbps: 2500,
    iceServers: [],
    iceHostAddresses: ['127.0.0.1'],
    // A publisher that vanished without a goodbye is noticed only by its media stopping; viewers
    // must see "offline" within 10 s, so this leaves room for the SSE message and the page.
    idleTimeoutMs: 5_000,
    jitterLatencyMs: 50,
    web: true,
    webDir: path.join(root, 'web'),
    logLevel: 'info',
    dataDir: path.join(root, 'data'),
    maxUploadMb: 500,
    jobConcurrency: 1,
    jobTtlHours: 24,
    maxVideoWidthPx: 3840,
    maxVideoHeightPx: 2160,
    maxImagePixels: 50_000_000,
    ingestTokens: [],
    viewerTokens: [],
    operatorTokens: [],
    // Same origin only; EMBED_ORIGINS=* opens embedding to every site (README, "Embedding").
    embedOrigins: [],
    // Each viewer costs SRTP and a socket send per packet on the main thread, not a model run.
    maxViewersPerStream: 16,
    // On a CPU a batch costs as much as its frames one by one, and sharing one worker would
    // serialize the streams; on a GPU a batch of 8 costs little more than one frame.
    batchAcrossStreams: 'auto',
    maxBatch: 8,
    modelPrecision: 'auto',
    // Ten minutes of video at up to 30 fps: about as long again to translate on 2 CPU cores.
    maxJobDurationS: 600,
    maxJobFrames: 18_000,
    maxQueuedJobs: 20,
    maxQueuedJobsPerClient: 3,
    maxJobTokensPerRequest: 100,
    // Panoramas up to 10:1; a 100000x100 strip is refused before it is decoded.
    maxImageAspectRatio: 10,
    // Each running image holds a generator and a few full-size buffers (up to MAX_IMAGE_PIXELS).
    maxConcurrentImages: 2,
    maxQueuedImages: 8,

    // Live sessions, signaling and connections (issue 12 §3).
    publicUrl: '',
    appOrigins: [],
    // A browser's offer is 4-10 KB with a few hundred lines, 2-3 sections, 30-40 formats in the
    // video one and a handful of candidates; these leave it room and keep a hostile offer cheap.
    maxSdpBytes: 32_768,
    maxSdpMediaSections: 8,
    maxSdpFormatsPerSection: 64,
    maxSdpAttributeLines: 1000,
    maxSdpLineBytes: 4096,
    maxIceCandidatesPerSession: 64,
    // Half the default MAX_SESSIONS: one address cannot take the whole server.
    maxSessionsPerIp: 2,
    maxSocketsPerIp: 16,
    // The page sends a few events a second at most (options while a slider moves, a burst of ICE
    // candidates at start); a model switch per event is what this bounds.
    maxSocketEventsPerS: 20,
    maxSseConnectionsPerStream: 64,
    maxSseConnectionsPerIp: 16,

    // Cluster mode (issue 13).
    redisUrl: '',
    nodeId: os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'node',
    // BullMQ's default lock: a worker busy on one frame for 30 s is still alive.
    jobStalledMs: 30_000,
    // A dead node's streams are gone from listings (and redirects) within 15 s.
    streamTtlMs: 15_000,
  };
}

const flagOf = (env: string) => `--${env.toLowerCase().replace(/_/g, '-')}`;

export const CONFIG_HELP = KEYS.map((k) => `  ${flagOf(k.env).padEnd(30)} env ${k.env}`).join('\n');

/**
 * Builds the config from defaults, then the environment, then CLI flags (`--port 3001` or
 * `--port=3001`), then `overrides`. Any bad value throws a ConfigError naming the key.
 */
export function loadConfig(
  opts: { env?: Record<string, string | undefined>; argv?: readonly string[]; root?: string; overrides?: Partial<z.infer<typeof configSchema>> } = {},
): Config {
  const env: Record<string, string | undefined> = opts.env ?? {};
  const argv = opts.argv ?? [];
  const raw: Record<string, unknown> = { ...defaultConfig(opts.root) };
  const apply = (spec: KeySpec, value: string, source: string) => {
    try {
      raw[spec.key] = spec.parse(value);
    } catch (err) {
      throw new ConfigError(source, (err as Error).message);
    }
  };
  for (const spec of KEYS) {
    const v = env[spec.env];
    if (v !== undefined && v !== '') apply(spec, v, spec.env);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(arg, 'unexpected argument');
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = KEYS.find((k) => flagOf(k.env) === flag);
    if (!spec) throw new ConfigError(flag, 'unknown flag');
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined) throw new ConfigError(flag, 'missing value');
    apply(spec, value, flag);
  }
  Object.assign(raw, opts.overrides ?? {});
  const res = configSchema.safeParse(raw);
  if (!res.success) {
    const issue = res.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const spec = KEYS.find((k) => k.key === key);
    throw new ConfigError(spec ? spec.env : key, issue.message);
  }
  const cfg = res.data;
  if (cfg.jobConcurrency === 0 && !cfg.redisUrl) throw new ConfigError('JOB_CONCURRENCY', 'must be at least 1 without REDIS_URL: no node would run the jobs');
  if (cfg.browserMinBitrateKbps > cfg.browserStartBitrateKbps || cfg.browserStartBitrateKbps > cfg.browserMaxBitrateKbps) {
    throw new ConfigError('BROWSER_START_BITRATE_KBPS', 'browser bitrates must satisfy min <= start <= max');
  }
  // zod hands back its own copies, so this freezes nothing the caller passed in overrides.
  freezeNested(cfg);
  return Object.freeze({ ...cfg, publicUrl: cfg.publicUrl.replace(/\/+$/, ''), providers: Object.freeze([...cfg.providers]) as Provider[] });
}

/** Freezes every object and array inside `value` (not `value` itself), however deep. */
function freezeNested(value: object): void {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object' && !Object.isFrozen(child)) {
      freezeNested(child);
      Object.freeze(child);
    }
  }
}

/**
 * Where each key comes from: its environment variable (and CLI flag), and how the raw string
 * is read before the schema checks it.
 */
import type { ConfigValues } from './config-schema.js';

export interface KeySpec {
  /** Environment variable; the CLI flag is its kebab-case form (`MAX_SESSIONS` -> `--max-sessions`). */
  env: string;
  key: keyof ConfigValues;
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

export const KEYS: readonly KeySpec[] = [
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

/** The CLI flag of an environment variable: `MAX_SESSIONS` -> `--max-sessions`. */
export const flagOf = (env: string) => `--${env.toLowerCase().replace(/_/g, '-')}`;

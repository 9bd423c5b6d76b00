/**
 * What a valid configuration is: every key, its type and its bounds. The wire vocabulary
 * (providers, codecs, ICE servers) comes from contract/, so config and clients agree.
 */
import { z } from 'zod';
import { LIMITS, PROVIDERS, VIDEO_CODECS, type IceServer } from './contract/index.js';

const iceServerSchema: z.ZodType<IceServer> = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});

export const configSchema = z.object({
  port: z.number().int().min(0).max(65535),
  /** Empty string: every interface, the Node default. */
  host: z.string(),
  modelsDir: z.string().min(1),
  defaultModel: z.string().min(1),
  /** Also list manifests marked hidden (test fixtures). */
  showHiddenModels: z.boolean(),
  maxSessions: z.number().int().min(1).max(64),
  providers: z.array(z.enum(PROVIDERS)).min(1),
  intraOpThreads: z.number().int().min(1).max(256),
  processingShortSidePx: z.number().int().min(LIMITS.processingShortSidePx.min).max(LIMITS.processingShortSidePx.max),
  smoothing: z.number().min(LIMITS.smoothing.min).max(LIMITS.smoothing.max),
  maxInputWidthPx: z.number().int().min(16),
  maxInputHeightPx: z.number().int().min(16),
  videoCodec: z.enum(VIDEO_CODECS),
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

/** The parsed configuration before it is frozen. */
export type ConfigValues = z.infer<typeof configSchema>;

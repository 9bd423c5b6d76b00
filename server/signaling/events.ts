/**
 * The socket.io contract between the server and web/. web/ imports it with `import type`
 * only, so the zod schemas below never reach the browser bundle.
 */
import { z } from 'zod';
import type { ErrorCode } from '../shared/errors.js';

export type Backend = 'cuda' | 'webgpu' | 'cpu';

export interface WireError {
  code: ErrorCode;
  message: string;
}

export type Ack<T> = (res: ({ ok: true } & T) | { ok: false; error: WireError }) => void;

export const startSessionSchema = z.object({
  offerSdp: z.string().min(1).max(100_000),
  modelId: z.string().min(1).max(200),
  /** 0 = off, 1 = strongest temporal smoothing. */
  smoothing: z.number().min(0).max(1).default(0.5),
  /** Short side of the frame the model sees; the stream keeps its own size. */
  processingShortSidePx: z.number().int().min(64).max(1080).optional(),
});
export type StartSessionRequest = z.input<typeof startSessionSchema>;

export const iceCandidateSchema = z.object({
  candidate: z.string().max(2000),
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional(),
});
export type IceCandidate = z.input<typeof iceCandidateSchema>;

export const switchModelSchema = z.object({ modelId: z.string().min(1).max(200) });
export type SwitchModelRequest = z.input<typeof switchModelSchema>;

export const setOptionsSchema = z
  .object({
    smoothing: z.number().min(0).max(1).optional(),
    processingShortSidePx: z.number().int().min(64).max(1080).optional(),
  })
  .refine((v) => v.smoothing !== undefined || v.processingShortSidePx !== undefined, 'nothing to set');
export type SetOptionsRequest = z.input<typeof setOptionsSchema>;

export interface SessionInfo {
  sessionId: string;
  answerSdp: string;
  modelId: string;
  backend: Backend;
  codec: 'vp8' | 'h264';
}

export interface SessionStats {
  sessionId: string;
  modelId: string;
  backend: Backend;
  codec: 'vp8' | 'h264';
  fpsIn: number;
  fpsOut: number;
  /** Median model run time over the last second. */
  inferenceMs: number;
  /** Median time from a frame's arrival (depacketized) to its encoded packets leaving, last second. */
  serverLatencyMs: number;
  droppedFrames: number;
  inputWidth: number;
  inputHeight: number;
  processingWidth: number;
  processingHeight: number;
  smoothing: number;
}

export type CloseReason = 'stopped' | 'disconnected' | 'ice-failed' | 'idle-timeout' | 'server-shutdown' | 'error';

/** Joins a job's room: its `job:update` and `job:progress` events, for whoever holds its token. */
export const watchJobSchema = z.object({
  id: z.string().uuid(),
  token: z.string().min(1).max(200),
});
export type WatchJobRequest = z.input<typeof watchJobSchema>;
export const unwatchJobSchema = z.object({ id: z.string().uuid() });
export type UnwatchJobRequest = z.input<typeof unwatchJobSchema>;

export interface ClientToServerEvents {
  'session:start': (req: StartSessionRequest, ack: Ack<SessionInfo>) => void;
  'session:ice': (candidate: IceCandidate) => void;
  'session:model': (req: SwitchModelRequest, ack: Ack<{ modelId: string; backend: Backend }>) => void;
  'session:options': (req: SetOptionsRequest, ack: Ack<{ smoothing: number; processingShortSidePx: number }>) => void;
  'session:stop': (ack?: Ack<object>) => void;
  /** Start receiving one job's events; the ack carries the job as it is now. */
  'job:watch': (req: WatchJobRequest, ack: Ack<{ job: JobInfo }>) => void;
  'job:unwatch': (req: UnwatchJobRequest, ack?: Ack<object>) => void;
}

export interface ServerToClientEvents {
  'session:stats': (stats: SessionStats) => void;
  'session:error': (err: WireError) => void;
  'session:closed': (info: { sessionId: string; reason: CloseReason }) => void;
  'session:model-changed': (info: { modelId: string; backend: Backend }) => void;
  /** A watched video job changed state (queued, started, finished, failed, cancelled, deleted). */
  'job:update': (job: JobInfo) => void;
  /** A watched running job moved on; sent a few times a second at most. */
  'job:progress': (progress: JobProgress) => void;
}

export interface InterServerEvents {}

export interface SocketData {
  sessionId?: string;
}

/** What GET /api/models returns per model; the picker shows these. */
export interface ModelSummary {
  id: string;
  title: string;
  from: string;
  to: string;
  architecture: string;
  params: number;
  macsAt256: number;
  kind: 'trained' | 'distilled' | 'fixture' | 'random';
  metrics?: Record<string, unknown>;
}

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface HealthResponse {
  /** False on a cluster node that cannot reach Redis (then served with status 503). */
  ok: boolean;
  /** Cluster mode only (REDIS_URL set). */
  cluster?: { nodeId: string; redis: 'up' | 'down' };
  /** STUN/TURN servers the page should use too (the server's ICE_SERVERS); empty on a LAN. */
  iceServers: IceServer[];
  sessions: number;
  maxSessions: number;
  models: number;
  defaultModel: string | null;
  openCodecs: number;
  /** WebRTC peer connections: publishers' and viewers'. */
  openPeers: number;
  openModelSessions: number;
  /** Generator runs since start, over every session and job: a frame translated once counts once. */
  modelRuns: number;
  uptimeS: number;
}

/** Where a stream's camera picture comes from. */
export type StreamSource = 'webcam' | 'whip';

/** GET /api/streams and GET /api/streams/<id>: one live stream (= one live session). */
export interface StreamSummary {
  id: string;
  source: StreamSource;
  modelId: string;
  /** Codec of the translated output that viewers receive. */
  codec: 'vp8' | 'h264';
  viewers: number;
  maxViewers: number;
  startedAt: string;
  /** Size of the translated output; 0 before the first frame. */
  width: number;
  height: number;
  fpsOut: number;
  /** Generator runs for this stream; one per translated frame, whatever the number of viewers. */
  modelRuns: number;
  /** Frames encoded once and forwarded to every viewer. */
  framesEncoded: number;
  /** Paths on this server (prefix the server's origin). */
  urls: { whep: string; embed: string; events: string; playerScript: string };
}

/**
 * Server-sent events on GET /api/streams/<id>/events: `state` once on connect and whenever the
 * viewer count changes, then `offline` when the stream ends (the server closes the connection).
 */
export interface StreamStateEvent {
  state: 'live' | 'offline';
  viewers: number;
}

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'deleted';

/** What the probe found in an uploaded video. */
export interface JobSource {
  container: string;
  videoCodec: string;
  width: number;
  height: number;
  fps: number;
  frames: number;
  durationS: number;
  /** Audio codec of the upload, null when silent. */
  audioCodec: string | null;
  /** What happens to the sound: stored as is, converted to AAC, or none. */
  audio: 'copy' | 'aac' | 'none';
}

export interface JobProgress {
  id: string;
  state: JobState;
  framesDone: number;
  framesTotal: number;
  /** Frames per second over the last few seconds. */
  fps: number;
  /** Seconds left at the current speed; null until it can be estimated. */
  etaS: number | null;
}

/** GET /api/jobs/:id, and each entry of GET /api/jobs. */
export interface JobInfo extends JobProgress {
  modelId: string;
  smoothing: number;
  /** Output size; the source's unless one was requested. */
  outputWidth: number;
  outputHeight: number;
  inputName: string;
  inputBytes: number;
  source: JobSource;
  /** Times the job was started (more than 1 after a server restart). */
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error: WireError | null;
  resultBytes: number | null;
  /** Download URL (supports range requests) once done. */
  resultUrl: string | null;
  /** The uploaded original, for side-by-side viewing. */
  inputUrl: string;
}

/**
 * POST /api/jobs (201): the new job and its token, a capability shown this once. Every other
 * request about the job presents it: `Authorization: Bearer <token>`, `?token=` on result and
 * input URLs (a <video src> cannot send headers), `X-Job-Tokens: t1,t2` on GET /api/jobs, and
 * `job:watch` on socket.io.
 */
export interface JobCreated extends JobInfo {
  token: string;
}

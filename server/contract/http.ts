/**
 * HTTP bodies of the API (models, health, streams, video jobs), shared with web/ by
 * `import type`. Job and stream events on socket.io and SSE carry these shapes too.
 */
import type { WireError } from './socket.js';
import type { IceServer, ModelGroup, VideoCodecName } from './media.js';

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
  group: ModelGroup;
  /** One sentence for users (the manifest's `summary`). */
  summary?: string;
  /** The live short side at which it keeps realtime on a 2-core CPU (the manifest's; auto uses it there). */
  cpuShortSidePx?: number;
  metrics?: Record<string, unknown>;
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
  /** The model video and image files get by default: `<defaultModel>-hq` where it is installed. */
  defaultFileModel: string | null;
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
  codec: VideoCodecName;
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

/** A job as the jobs stage knows it; the HTTP layer adds the URLs it serves it under (JobInfo). */
export interface JobRecord extends JobProgress {
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
}

/** GET /api/jobs/:id, each entry of GET /api/jobs, and `job:update` on socket.io. */
export interface JobInfo extends JobRecord {
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

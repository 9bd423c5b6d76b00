/**
 * The socket.io contract between the server and web/: events, their bodies and the zod schemas
 * that check them. web/ imports it with `import type` only, so zod never reaches the browser.
 */
import { z } from 'zod';
import type { ErrorCode } from '../shared/errors.js';
import type { JobInfo, JobProgress } from './http.js';
import { LIMITS, type Backend, type VideoCodecName } from './media.js';

export interface WireError {
  code: ErrorCode;
  message: string;
}

export type Ack<T> = (res: ({ ok: true } & T) | { ok: false; error: WireError }) => void;

/** A processing short side in pixels, within the server's limits (socket requests and model manifests). */
export const shortSidePxSchema = z.number().int().min(LIMITS.processingShortSidePx.min).max(LIMITS.processingShortSidePx.max);

export const startSessionSchema = z.object({
  offerSdp: z.string().min(1).max(LIMITS.offerSdpChars),
  modelId: z.string().min(1).max(LIMITS.modelIdChars),
  /** 0 = off, 1 = strongest temporal smoothing. Absent: the server's SMOOTHING. */
  smoothing: z.number().min(LIMITS.smoothing.min).max(LIMITS.smoothing.max).optional(),
  /** Short side of the frame the model sees; the stream keeps its own size. Absent: auto. */
  processingShortSidePx: shortSidePxSchema.optional(),
});
export type StartSessionRequest = z.input<typeof startSessionSchema>;

export const iceCandidateSchema = z.object({
  candidate: z.string().max(2000),
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional(),
});
export type IceCandidate = z.input<typeof iceCandidateSchema>;

export const switchModelSchema = z.object({ modelId: z.string().min(1).max(LIMITS.modelIdChars) });
export type SwitchModelRequest = z.input<typeof switchModelSchema>;

export const setOptionsSchema = z
  .object({
    smoothing: z.number().min(LIMITS.smoothing.min).max(LIMITS.smoothing.max).optional(),
    /**
     * A short side in pixels, or `auto`: the server's PROCESSING_SHORT_SIDE_PX, lowered on a CPU
     * to the model's `cpuShortSidePx` (and recomputed when the model changes).
     */
    processingShortSidePx: z.union([shortSidePxSchema, z.literal('auto')]).optional(),
  })
  .refine((v) => v.smoothing !== undefined || v.processingShortSidePx !== undefined, 'nothing to set');
export type SetOptionsRequest = z.input<typeof setOptionsSchema>;

/** A live session's options as they are now, after `session:options` (and in `SessionInfo`). */
export interface SessionOptions {
  smoothing: number;
  /** The short side the model sees now: the one asked for, or auto's choice for the current model. */
  processingShortSidePx: number;
  /** True while the size is auto, so it follows model switches. */
  processingAuto: boolean;
}

export interface SessionInfo {
  sessionId: string;
  answerSdp: string;
  modelId: string;
  backend: Backend;
  codec: VideoCodecName;
  /** The processing short side the session starts with, and whether it is auto. */
  processingShortSidePx: number;
  processingAuto: boolean;
}

export interface SessionStats {
  sessionId: string;
  modelId: string;
  backend: Backend;
  codec: VideoCodecName;
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
  token: z.string().min(1).max(LIMITS.tokenChars),
});
export type WatchJobRequest = z.input<typeof watchJobSchema>;
export const unwatchJobSchema = z.object({ id: z.string().uuid() });
export type UnwatchJobRequest = z.input<typeof unwatchJobSchema>;

export interface ClientToServerEvents {
  'session:start': (req: StartSessionRequest, ack: Ack<SessionInfo>) => void;
  'session:ice': (candidate: IceCandidate) => void;
  'session:model': (req: SwitchModelRequest, ack: Ack<{ modelId: string; backend: Backend }>) => void;
  'session:options': (req: SetOptionsRequest, ack: Ack<SessionOptions>) => void;
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


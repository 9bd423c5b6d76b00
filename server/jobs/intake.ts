/**
 * Taking a job in: queue places (overall and per client), then the upload's probe against the
 * size, duration and frame limits, then the move into the job's folder under the name of its
 * detected container and the row with the token's hash. The queue (manager.ts) calls these in
 * that order and owns the events.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { assertModelId, listModels } from '../inference/index.js';
import { BadRequestError, BusyError, ModelNotFoundError, StoreError, RateLimitError, asCycleStreamError } from '../shared/errors.js';
import { hashToken, newToken } from '../shared/tokens.js';
import { VIDEO_CONTAINERS } from '../codec/index.js';
import { toSource } from './job-info.js';
import { probeVideo, type VideoProbe } from './probe.js';
import type { JobRow } from './store.js';
import type { JobRecords } from './records.js';
import { resolveOutputSize } from './translate-video.js';

export type IntakeConfig = Pick<
  Config,
  | 'modelsDir'
  | 'maxVideoWidthPx'
  | 'maxVideoHeightPx'
  | 'maxJobDurationS'
  | 'maxJobFrames'
  | 'processingShortSidePx'
  | 'maxQueuedJobs'
  | 'maxQueuedJobsPerClient'
>;

/** What a job request asks for, checked before its upload is stored. */
export interface JobRequest {
  modelId: string;
  smoothing?: number;
  outputWidth?: number | null;
  outputHeight?: number | null;
}

/** The model id, if it is well-formed and the models folder has it. */
export async function assertModelAvailable(modelsDir: string, modelId: string): Promise<string> {
  const id = assertModelId(modelId);
  const listing = await listModels(modelsDir);
  if (!listing.models.some((m) => m.id === id)) throw new ModelNotFoundError(`model ${id} not found`);
  return id;
}

/** Validates a job request (model, smoothing, output size), cheaply: before its upload is read. Returns the model id. */
export async function checkJobRequest(c: IntakeConfig, req: JobRequest): Promise<string> {
  const modelId = await assertModelAvailable(c.modelsDir, req.modelId);
  if (req.smoothing !== undefined && !(req.smoothing >= 0 && req.smoothing <= 1)) {
    throw new BadRequestError(`smoothing must be between 0 and 1, got ${req.smoothing}`);
  }
  const max = Math.max(c.maxVideoWidthPx, c.maxVideoHeightPx);
  for (const [k, v] of [['width', req.outputWidth], ['height', req.outputHeight]] as const) {
    if (v !== null && v !== undefined && !(Number.isInteger(v) && v >= 16 && v <= max)) {
      throw new BadRequestError(`output ${k} ${v} is out of range (16..${max})`);
    }
  }
  return modelId;
}

/** Retry-After when the queue is full: a short job's time. */
const QUEUE_RETRY_AFTER_S = 30;

/** Refuses a new job when the queue (503), or this client's share of it (429), is full. */
export async function checkQueueCapacity(store: JobRecords, config: IntakeConfig, client?: string): Promise<void> {
  const all = await store.countActive();
  if (all >= config.maxQueuedJobs) {
    throw new BusyError(`the job queue is full (${all} jobs queued or running); try again later`, QUEUE_RETRY_AFTER_S);
  }
  if (client !== undefined && (await store.countActive(client)) >= config.maxQueuedJobsPerClient) {
    throw new RateLimitError(
      `you have ${config.maxQueuedJobsPerClient} job(s) queued or running, the most one client may have; wait for one to finish`,
      QUEUE_RETRY_AFTER_S,
    );
  }
}

/** The upload's probe within the limits, and the output size it resolves to. */
export async function probeUpload(
  tempPath: string,
  label: string,
  requested: { width?: number | null; height?: number | null },
  c: IntakeConfig,
): Promise<{ probe: VideoProbe; out: { width: number; height: number } }> {
  const probe = await probeVideo(
    tempPath,
    { maxWidthPx: c.maxVideoWidthPx, maxHeightPx: c.maxVideoHeightPx, maxDurationS: c.maxJobDurationS, maxFrames: c.maxJobFrames },
    label,
  );
  const out = resolveOutputSize(probe.video, requested);
  const limit = { w: c.maxVideoWidthPx, h: c.maxVideoHeightPx };
  if (!((out.width <= limit.w && out.height <= limit.h) || (out.width <= limit.h && out.height <= limit.w))) {
    throw new BadRequestError(`output size ${out.width}x${out.height} is above the limit ${limit.w}x${limit.h}`);
  }
  return { probe, out };
}

export interface NewUpload {
  tempPath: string;
  inputName: string;
  modelId: string;
  smoothing: number;
  client: string | null;
  probe: VideoProbe;
  out: { width: number; height: number };
}

/**
 * Moves a probed upload into a new job's folder and records the job; returns its row and its
 * token, which exists nowhere else once the caller has handed it out. A store failure leaves
 * nothing behind and is a StoreError (503).
 */
export async function storeUpload(store: JobRecords, jobsDir: string, c: IntakeConfig, u: NewUpload): Promise<{ row: JobRow; token: string }> {
  const id = randomUUID();
  const token = newToken();
  const dir = path.join(jobsDir, id);
  const inputFile = `input${VIDEO_CONTAINERS[u.probe.format].extension}`;
  mkdirSync(dir, { recursive: true });
  await rename(u.tempPath, path.join(dir, inputFile));
  try {
    const row = await store.insert({
      id,
      modelId: u.modelId,
      smoothing: u.smoothing,
      outputWidth: u.out.width,
      outputHeight: u.out.height,
      processingShortSidePx: c.processingShortSidePx,
      inputName: u.inputName.slice(0, 255),
      inputFile,
      inputBytes: u.probe.sizeBytes,
      source: toSource(u.probe),
      probe: u.probe,
      framesTotal: u.probe.video.frames,
      createdAtMs: Date.now(),
      tokenHash: hashToken(token),
      client: u.client,
    });
    return { row, token };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw asCycleStreamError(err, StoreError);
  }
}

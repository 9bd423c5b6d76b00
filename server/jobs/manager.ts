/**
 * The video job queue: accepts probed uploads, keeps them in the SQLite store and the data
 * folder, runs up to `jobConcurrency` at a time through translateVideo, reports progress,
 * cancels, resumes after a restart (a job that was running starts again from its first
 * frame) and deletes ended jobs after their time to live.
 *
 * Data folder layout: jobs.sqlite, uploads/<random>.part (uploads in flight, never accepted
 * yet), jobs/<id>/input.<ext>, jobs/<id>/output.partial.mp4 while running, jobs/<id>/result.mp4.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import type { Config } from '../config.js';
import { assertModelId, listModels, type InferenceHost, type StageLogger } from '../inference/index.js';
import type { JobInfo, JobProgress, JobSource } from '../signaling/index.js';
import {
  BadRequestError,
  ClosedError,
  CycleStreamError,
  InferenceError,
  JobAbandonedError,
  JobCancelledError,
  JobNotFoundError,
  JobStateError,
  ModelNotFoundError,
  asCycleStreamError,
} from '../shared/errors.js';
import { GeneratorPool } from './pool.js';
import { probeVideo, type VideoProbe } from './probe.js';
import { JobStore, type JobRow } from './store.js';
import { translateImage, type ImageResult } from './translate-image.js';
import { resolveOutputSize, translateVideo } from './translate-video.js';

export type JobsConfig = Pick<
  Config,
  | 'dataDir'
  | 'modelsDir'
  | 'processingShortSidePx'
  | 'smoothing'
  | 'maxUploadMb'
  | 'jobConcurrency'
  | 'jobTtlHours'
  | 'maxVideoWidthPx'
  | 'maxVideoHeightPx'
  | 'maxImagePixels'
>;

export interface JobManagerOptions {
  config: JobsConfig;
  host: InferenceHost;
  logger?: StageLogger;
  onUpdate?: (job: JobInfo) => void;
  onProgress?: (progress: JobProgress) => void;
  /** Progress events per job at most this often. Default 250 ms. */
  progressIntervalMs?: number;
}

export interface SubmitRequest {
  /** The upload, somewhere under uploadsDir; moved into the job's folder when accepted. */
  tempPath: string;
  /** Name the client gave the file (shown in lists, never used as a path). */
  inputName: string;
  modelId: string;
  smoothing?: number;
  outputWidth?: number | null;
  outputHeight?: number | null;
}

/** A job that keeps being interrupted (say it crashes the process) gives up after this many starts. */
const MAX_ATTEMPTS = 3;
const PROGRESS_SAVE_MS = 2000;
const SPEED_WINDOW_MS = 5000;

interface Running {
  controller: AbortController;
  done: Promise<void>;
  framesDone: number;
  framesTotal: number;
  samples: { atMs: number; frames: number }[];
  lastEmitMs: number;
  lastSaveMs: number;
}

function safeExtension(name: string): string {
  const ext = path.extname(name).toLowerCase();
  return /^\.[a-z0-9]{1,8}$/.test(ext) ? ext : '.bin';
}

function toSource(p: VideoProbe): JobSource {
  return {
    container: p.container,
    videoCodec: p.video.codec,
    width: p.video.width,
    height: p.video.height,
    fps: Math.round(p.video.fps * 1000) / 1000,
    frames: p.video.frames,
    durationS: Math.round(p.durationS * 1000) / 1000,
    audioCodec: p.audio?.codec ?? null,
    audio: p.audio?.action ?? 'none',
  };
}

export class JobManager {
  readonly #config: JobsConfig;
  readonly #store: JobStore;
  readonly #pool: GeneratorPool;
  readonly #log: StageLogger;
  readonly #running = new Map<string, Running>();
  readonly #opts: JobManagerOptions;
  readonly #sweepTimer: NodeJS.Timeout;
  readonly uploadsDir: string;
  readonly #jobsDir: string;
  #closing: Promise<void> | null = null;
  #scheduled = false;

  constructor(opts: JobManagerOptions) {
    this.#opts = opts;
    this.#config = opts.config;
    this.#log = opts.logger ?? pino({ level: 'silent' });
    const dataDir = path.resolve(this.#config.dataDir);
    this.uploadsDir = path.join(dataDir, 'uploads');
    this.#jobsDir = path.join(dataDir, 'jobs');
    mkdirSync(this.uploadsDir, { recursive: true });
    mkdirSync(this.#jobsDir, { recursive: true });
    this.#store = new JobStore(path.join(dataDir, 'jobs.sqlite'));
    this.#pool = new GeneratorPool({ host: opts.host });
    this.#recover();
    this.sweep();
    const ttlMs = this.#config.jobTtlHours * 3_600_000;
    this.#sweepTimer = setInterval(() => this.sweep(), Math.max(60_000, Math.min(ttlMs / 4, 3_600_000)));
    this.#sweepTimer.unref();
    this.#schedule();
  }

  get maxUploadBytes(): number {
    return Math.floor(this.#config.maxUploadMb * 1024 * 1024);
  }

  /** A fresh path for an upload in flight; nothing there survives a restart. */
  uploadTempPath(): string {
    return path.join(this.uploadsDir, `${randomUUID()}.part`);
  }

  /** Start-up: uploads in flight were never accepted; jobs that were running go back in the queue. */
  #recover(): void {
    for (const name of readdirSync(this.uploadsDir)) rmSync(path.join(this.uploadsDir, name), { force: true, recursive: true });
    const requeued = this.#store.requeueInterrupted();
    if (requeued.length) this.#log.info({ jobs: requeued }, 'jobs interrupted by a restart are queued again');
    const known = this.#store.allIds();
    for (const name of readdirSync(this.#jobsDir)) {
      const dir = path.join(this.#jobsDir, name);
      // A folder without a row is an upload that crashed between the move and the insert: never acknowledged.
      if (!known.has(name)) rmSync(dir, { recursive: true, force: true });
      else rmSync(path.join(dir, 'output.partial.mp4'), { force: true });
    }
  }

  /** Deletes ended jobs past their time to live; returns how many. */
  sweep(nowMs = Date.now()): number {
    if (this.#closing) return 0;
    const cutoff = nowMs - this.#config.jobTtlHours * 3_600_000;
    const ids = this.#store.expired(cutoff);
    for (const id of ids) this.#deleteJob(id);
    if (ids.length) this.#log.info({ jobs: ids.length }, 'expired jobs deleted');
    return ids.length;
  }

  #deleteJob(id: string): void {
    const row = this.#store.get(id);
    this.#store.delete(id);
    rmSync(path.join(this.#jobsDir, id), { recursive: true, force: true });
    if (row) this.#opts.onUpdate?.({ ...this.#info(row), state: 'deleted' });
  }

  async #assertModel(modelId: string): Promise<string> {
    const id = assertModelId(modelId);
    const listing = await listModels(this.#config.modelsDir);
    if (!listing.models.some((m) => m.id === id)) throw new ModelNotFoundError(`model ${id} not found`);
    return id;
  }

  /** Validates a job request before its upload is read in full (cheap checks only). */
  async checkRequest(req: { modelId: string; smoothing?: number }): Promise<void> {
    await this.#assertModel(req.modelId);
    if (req.smoothing !== undefined && !(req.smoothing >= 0 && req.smoothing <= 1)) {
      throw new BadRequestError(`smoothing must be between 0 and 1, got ${req.smoothing}`);
    }
  }

  /**
   * Probes an upload and, if it is a video the runner can translate, accepts it as a queued
   * job. The temp file is moved (or, when refused, deleted) in every case.
   */
  async submit(req: SubmitRequest): Promise<JobInfo> {
    try {
      if (this.#closing) throw new ClosedError('the server is shutting down');
      const modelId = await this.#assertModel(req.modelId);
      const smoothing = req.smoothing ?? this.#config.smoothing;
      if (!(smoothing >= 0 && smoothing <= 1)) throw new BadRequestError(`smoothing must be between 0 and 1, got ${smoothing}`);
      for (const [k, v] of [['width', req.outputWidth], ['height', req.outputHeight]] as const) {
        if (v !== null && v !== undefined && !(Number.isInteger(v) && v >= 16 && v <= Math.max(this.#config.maxVideoWidthPx, this.#config.maxVideoHeightPx))) {
          throw new BadRequestError(`output ${k} ${v} is out of range (16..${Math.max(this.#config.maxVideoWidthPx, this.#config.maxVideoHeightPx)})`);
        }
      }
      const probe = await probeVideo(req.tempPath, { maxWidthPx: this.#config.maxVideoWidthPx, maxHeightPx: this.#config.maxVideoHeightPx }, JSON.stringify(req.inputName));
      const out = resolveOutputSize(probe.video, { width: req.outputWidth, height: req.outputHeight });
      const limit = { w: this.#config.maxVideoWidthPx, h: this.#config.maxVideoHeightPx };
      if (!((out.width <= limit.w && out.height <= limit.h) || (out.width <= limit.h && out.height <= limit.w))) {
        throw new BadRequestError(`output size ${out.width}x${out.height} is above the limit ${limit.w}x${limit.h}`);
      }

      const id = randomUUID();
      const dir = path.join(this.#jobsDir, id);
      const inputFile = `input${safeExtension(req.inputName)}`;
      mkdirSync(dir, { recursive: true });
      await rename(req.tempPath, path.join(dir, inputFile));
      const row = this.#store.insert({
        id,
        modelId,
        smoothing,
        outputWidth: out.width,
        outputHeight: out.height,
        processingShortSidePx: this.#config.processingShortSidePx,
        inputName: req.inputName.slice(0, 255),
        inputFile,
        inputBytes: probe.sizeBytes,
        source: toSource(probe),
        probe,
        framesTotal: probe.video.frames,
        createdAtMs: Date.now(),
      });
      const info = this.#info(row);
      this.#opts.onUpdate?.(info);
      this.#schedule();
      return info;
    } finally {
      await rm(req.tempPath, { force: true }).catch(() => undefined);
    }
  }

  get(id: string): JobInfo {
    const row = this.#store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    return this.#info(row);
  }

  list(): JobInfo[] {
    return this.#store.list().map((r) => this.#info(r));
  }

  /** Where a done job's MP4 is. */
  async resultPath(id: string): Promise<string> {
    const row = this.#store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    if (row.state !== 'done') throw new JobStateError(`job ${id} is ${row.state}; its result is not available`);
    return path.join(this.#jobsDir, id, 'result.mp4');
  }

  async inputPath(id: string): Promise<{ path: string; name: string }> {
    const row = this.#store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    return { path: path.join(this.#jobsDir, id, row.inputFile), name: row.inputName };
  }

  /**
   * Cancels a queued or running job (waiting for the run to let go of its files), or deletes
   * a job that has already ended. Returns the job as it now is, or null when deleted.
   */
  async cancel(id: string): Promise<JobInfo | null> {
    const row = this.#store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    if (row.state === 'done' || row.state === 'failed' || row.state === 'cancelled') {
      if (this.#running.has(id)) await this.#running.get(id)!.done;
      this.#deleteJob(id);
      return null;
    }
    this.#store.markCancelled(id, Date.now());
    const run = this.#running.get(id);
    if (run) {
      run.controller.abort(new JobCancelledError('cancelled by request'));
      await run.done;
    }
    const info = this.get(id);
    this.#opts.onUpdate?.(info);
    return info;
  }

  /** Translates one image with a pooled generator. */
  async translateImage(input: string | Buffer, modelId: string): Promise<ImageResult> {
    if (this.#closing) throw new ClosedError('the server is shutting down');
    const id = await this.#assertModel(modelId);
    const generator = await this.#pool.acquire(id);
    let broken = false;
    try {
      return await translateImage({
        input,
        generator,
        processingShortSidePx: this.#config.processingShortSidePx,
        maxPixels: this.#config.maxImagePixels,
      });
    } catch (err) {
      broken = err instanceof InferenceError;
      throw err;
    } finally {
      await this.#pool.release(generator, broken);
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Deferred so a burst of submits, or a run ending, schedules once.
    setImmediate(() => {
      this.#scheduled = false;
      while (!this.#closing && this.#running.size < this.#config.jobConcurrency) {
        const next = this.#store.nextQueued(new Set(this.#running.keys()));
        if (!next) break;
        this.#start(next);
      }
    });
  }

  #start(row: JobRow): void {
    if (row.attempts >= MAX_ATTEMPTS) {
      const err = new JobAbandonedError(`gave up after ${row.attempts} starts: the server stopped during each`);
      this.#store.markFailed(row.id, Date.now(), err.code, err.message);
      this.#opts.onUpdate?.(this.get(row.id));
      return;
    }
    if (!this.#store.markRunning(row.id, Date.now())) return;
    const controller = new AbortController();
    const run: Running = {
      controller,
      done: Promise.resolve(),
      framesDone: 0,
      framesTotal: row.framesTotal,
      samples: [],
      lastEmitMs: 0,
      lastSaveMs: Date.now(),
    };
    this.#running.set(row.id, run);
    this.#opts.onUpdate?.(this.get(row.id));
    run.done = this.#execute(row, run).finally(() => {
      this.#running.delete(row.id);
      this.#schedule();
    });
  }

  async #execute(row: JobRow, run: Running): Promise<void> {
    const dir = path.join(this.#jobsDir, row.id);
    const partial = path.join(dir, 'output.partial.mp4');
    const result = path.join(dir, 'result.mp4');
    let generator = null;
    let broken = false;
    try {
      generator = await this.#pool.acquire(row.modelId);
      const res = await translateVideo({
        inputPath: path.join(dir, row.inputFile),
        outputPath: partial,
        probe: row.probe,
        generator,
        smoothing: row.smoothing,
        processingShortSidePx: row.processingShortSidePx,
        outputSize: { width: row.outputWidth, height: row.outputHeight },
        signal: run.controller.signal,
        onProgress: (p) => this.#onProgress(row.id, run, p.framesDone, p.framesTotal),
      });
      // Durable before it is announced: the result must not vanish with a crash right after "done".
      const fh = await open(partial, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(partial, result);
      const { size } = await stat(result);
      if (this.#store.markDone(row.id, Date.now(), size, res.frames)) {
        this.#log.info({ job: row.id, frames: res.frames, audio: res.audio }, 'job done');
      } else {
        // Cancelled between the last frame and here: the cancel wins.
        await rm(result, { force: true });
      }
    } catch (err) {
      await rm(partial, { force: true }).catch(() => undefined);
      if (run.controller.signal.aborted) {
        // Shutting down: back to the queue for the next start. Otherwise cancel() already marked it.
        if (this.#closing) this.#store.requeue(row.id);
      } else {
        const e = asCycleStreamError(err, InferenceError);
        broken = e instanceof InferenceError;
        this.#store.markFailed(row.id, Date.now(), e.code, e.message);
        this.#log.warn({ job: row.id, err: e.message, code: e.code }, 'job failed');
      }
    } finally {
      if (generator) await this.#pool.release(generator, broken);
    }
    const after = this.#store.get(row.id);
    if (after) this.#opts.onUpdate?.(this.#info(after));
  }

  #onProgress(id: string, run: Running, framesDone: number, framesTotal: number): void {
    const now = Date.now();
    run.framesDone = framesDone;
    run.framesTotal = framesTotal;
    run.samples.push({ atMs: now, frames: framesDone });
    while (run.samples.length > 2 && now - run.samples[0]!.atMs > SPEED_WINDOW_MS) run.samples.shift();
    if (now - run.lastSaveMs >= PROGRESS_SAVE_MS) {
      run.lastSaveMs = now;
      this.#store.saveProgress(id, framesDone, framesTotal);
    }
    const interval = this.#opts.progressIntervalMs ?? 250;
    if (now - run.lastEmitMs >= interval || framesDone === framesTotal) {
      run.lastEmitMs = now;
      this.#opts.onProgress?.(this.#progress(id, 'running', run));
    }
  }

  #progress(id: string, state: JobInfo['state'], run: Running): JobProgress {
    const first = run.samples[0];
    const last = run.samples[run.samples.length - 1];
    let fps = 0;
    if (first && last && last.atMs > first.atMs) fps = ((last.frames - first.frames) * 1000) / (last.atMs - first.atMs);
    const remaining = Math.max(0, run.framesTotal - run.framesDone);
    return {
      id,
      state,
      framesDone: run.framesDone,
      framesTotal: run.framesTotal,
      fps: Math.round(fps * 100) / 100,
      etaS: fps > 0 ? Math.round((remaining / fps) * 10) / 10 : null,
    };
  }

  #info(row: JobRow): JobInfo {
    const run = row.state === 'running' ? this.#running.get(row.id) : undefined;
    const progress: JobProgress = run
      ? this.#progress(row.id, row.state, run)
      : {
          id: row.id,
          state: row.state,
          framesDone: row.framesDone,
          framesTotal: row.framesTotal,
          fps: 0,
          etaS: row.state === 'done' ? 0 : null,
        };
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      ...progress,
      modelId: row.modelId,
      smoothing: row.smoothing,
      outputWidth: row.outputWidth,
      outputHeight: row.outputHeight,
      inputName: row.inputName,
      inputBytes: row.inputBytes,
      source: row.source,
      attempts: row.attempts,
      createdAt: iso(row.createdAtMs)!,
      startedAt: iso(row.startedAtMs),
      finishedAt: iso(row.finishedAtMs),
      error: row.errorCode ? { code: row.errorCode as CycleStreamError['code'], message: row.errorMessage ?? '' } : null,
      resultBytes: row.resultBytes,
      resultUrl: row.state === 'done' ? `/api/jobs/${row.id}/result` : null,
      inputUrl: `/api/jobs/${row.id}/input`,
    };
  }

  /** Jobs now running (their ids). */
  runningIds(): string[] {
    return [...this.#running.keys()];
  }

  /**
   * Stops: running jobs are interrupted and go back in the queue (the next start resumes
   * them), generators close, the store closes. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sweepTimer);
      const runs = [...this.#running.values()];
      for (const r of runs) r.controller.abort(new JobCancelledError('the server is shutting down'));
      await Promise.all(runs.map((r) => r.done.catch(() => undefined)));
      await this.#pool.close();
      this.#store.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The video job queue: accepts probed uploads, keeps them in the job records (SQLite in the
 * data folder; Redis in a cluster) and the data folder, runs up to `jobConcurrency` at a time
 * through translateVideo, reports progress, cancels, resumes after a restart (a job that was
 * running starts again from its first frame) and deletes ended jobs after their time to live.
 *
 * A job belongs to whoever holds its token: a random capability returned once by submit(),
 * stored only as its SHA-256 (see access.ts). The queue is capped globally and per client.
 *
 * Store errors (SQLite: disk full, database locked; Redis unreachable) met in timers and
 * callbacks fail the job they concern, or are retried, and are logged; they never reach the
 * event loop.
 *
 * Its parts (built and wired in parts.ts): the queue (queue.ts; BullMQ in a cluster) picks what
 * runs, the runner (runner.ts) runs it, the layout (layout.ts) owns the data folder,
 * housekeeping.ts runs recovery and expiry, intake.ts takes uploads in, progress.ts computes
 * progress, events.ts sends updates.
 */
import { rm } from 'node:fs/promises';
import type { JobRecord } from '../contract/index.js';
import { BusyError, ClosedError, JobCancelledError, JobNotFoundError, JobStateError } from '../shared/errors.js';
import { hashToken, tokenIsOneOf } from '../shared/tokens.js';
import { authorizeRow, type JobCredentials } from './access.js';
import { assertModelAvailable, checkJobRequest, type JobRequest, checkQueueCapacity, probeUpload, storeUpload } from './intake.js';
import type { JobManagerOptions, SubmitRequest } from './options.js';
import { openJobParts, type JobParts } from './parts.js';
import type { ImageResult } from './translate-image.js';

export class JobManager {
  readonly #p: JobParts;
  #closing: Promise<void> | null = null;

  constructor(opts: JobManagerOptions) {
    this.#p = openJobParts(opts);
  }

  /** Cluster mode: removes job folders that no job owns, past a grace period (orphans.ts); returns how many. Never throws. */
  sweepOrphans(nowMs = Date.now()): Promise<number> {
    return this.#closing ? Promise.resolve(0) : this.#p.housekeeping.sweepOrphans(nowMs);
  }

  /** Where uploads in flight are written. */
  get uploadsDir(): string {
    return this.#p.layout.uploadsDir;
  }

  get maxUploadBytes(): number {
    return Math.floor(this.#p.config.maxUploadMb * 1024 * 1024);
  }

  /** A fresh path for an upload in flight; nothing there survives a restart. */
  uploadTempPath(): string {
    return this.#p.layout.uploadTempPath();
  }

  /** Deletes ended jobs past their time to live; returns how many. Runs from a timer: never throws. */
  sweep(nowMs = Date.now()): Promise<number> {
    return this.#closing ? Promise.resolve(0) : this.#p.housekeeping.sweep(nowMs);
  }

  /** Refuses a new job when the queue (503), or this client's share of it (429), is full. */
  async checkCapacity(client?: string): Promise<void> {
    if (this.#closing) throw new ClosedError('the server is shutting down');
    if (!this.#p.reachable()) throw new BusyError('the job queue is unreachable; try again shortly', 5);
    await checkQueueCapacity(this.#p.store, this.#p.config, client);
  }

  /** Validates a job request (model, smoothing, output size) before its upload is read. Returns the model id. */
  checkRequest(req: JobRequest): Promise<string> {
    return checkJobRequest(this.#p.config, req);
  }

  /** Refuses an image translation now if the image queue is full (before the upload is read). */
  checkImageCapacity(): void {
    if (this.#closing) throw new ClosedError('the server is shutting down');
    this.#p.images.checkCapacity();
  }

  /**
   * Probes an upload and, if it is a video the runner can translate, accepts it as a queued
   * job and returns it with its token (the only time the token is seen). The temp file is
   * moved (or, when refused, deleted) in every case.
   */
  async submit(req: SubmitRequest): Promise<JobRecord & { token: string }> {
    try {
      const modelId = await this.checkRequest(req);
      await this.checkCapacity(req.client);
      const { probe, out } = await probeUpload(req.tempPath, JSON.stringify(req.inputName), { width: req.outputWidth, height: req.outputHeight }, this.#p.config);
      // Checked again: the probe took time, and other uploads may have been accepted meanwhile.
      await this.checkCapacity(req.client);
      const { row, token } = await storeUpload(this.#p.store, this.#p.layout.jobsDir, this.#p.config, {
        tempPath: req.tempPath,
        inputName: req.inputName,
        modelId,
        smoothing: req.smoothing ?? this.#p.config.smoothing,
        client: req.client ?? null,
        probe,
        out,
      });
      const info = this.#p.events.info(row);
      this.#p.events.emit(info);
      await this.#p.queue.enqueue(row.id);
      return { ...info, token };
    } finally {
      await rm(req.tempPath, { force: true }).catch(() => undefined);
    }
  }

  /** The job, if the credentials hold its token (or an operator token); see access.ts for the errors. */
  async authorize(id: string, creds: JobCredentials): Promise<JobRecord> {
    return this.#p.events.info(authorizeRow(await this.#p.store.get(id), id, creds));
  }

  /** For `job:watch` on socket.io: one token, the job's own or an operator token. */
  authorizeWatch(id: string, token: string): Promise<JobRecord> {
    return this.authorize(id, this.credentials([token]));
  }

  /** Credentials from the tokens a caller presented: operator when one of them is an OPERATOR_TOKENS token. */
  credentials(tokens: readonly string[]): JobCredentials {
    const ops = this.#p.config.operatorTokens;
    return { tokens, operator: ops.length > 0 && tokens.some((t) => tokenIsOneOf(t, ops)) };
  }

  async get(id: string): Promise<JobRecord> {
    const row = await this.#p.store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    return this.#p.events.info(row);
  }

  /** Every job (newest first): for operators and tests. */
  async list(): Promise<JobRecord[]> {
    return (await this.#p.store.list()).map((r) => this.#p.events.info(r));
  }

  /** The jobs these credentials may see: every job for an operator, else those whose tokens are presented. */
  async listFor(creds: JobCredentials): Promise<JobRecord[]> {
    const rows = await (creds.operator ? this.#p.store.list() : this.#p.store.listByTokenHashes(creds.tokens.map(hashToken)));
    return rows.map((r) => this.#p.events.info(r));
  }

  /** Where a done job's MP4 is. */
  async resultPath(id: string): Promise<string> {
    const row = await this.#p.store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    if (row.state !== 'done') throw new JobStateError(`job ${id} is ${row.state}; its result is not available`);
    return this.#p.layout.resultPath(id);
  }

  async inputPath(id: string): Promise<{ path: string; name: string; file: string }> {
    const row = await this.#p.store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    return { path: this.#p.layout.inputPath(row), name: row.inputName, file: row.inputFile };
  }

  /**
   * Cancels a running job (waiting for the run to let go of its files; the upload stays until
   * the job is deleted), or deletes a queued or ended job with its files at once. Returns the
   * job as it now is, or null when deleted.
   */
  async cancel(id: string): Promise<JobRecord | null> {
    const row = await this.#p.store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    if (row.state !== 'running') {
      await this.#p.runner.settled(id);
      await this.#p.queue.remove(id);
      await this.#p.housekeeping.deleteJob(id);
      return null;
    }
    await this.#p.store.markCancelled(id, Date.now());
    await this.#p.runner.stop(id, new JobCancelledError('cancelled by request'));
    const info = await this.get(id);
    this.#p.events.emit(info);
    return info;
  }

  /** Translates one image with a pooled generator, within the image concurrency limit. */
  async translateImage(input: string | Buffer, modelId: string): Promise<ImageResult> {
    if (this.#closing) throw new ClosedError('the server is shutting down');
    return this.#p.images.translate(input, await assertModelAvailable(this.#p.config.modelsDir, modelId));
  }

  /** Jobs waiting for a worker (over the cluster in cluster mode). */
  queueDepth(): Promise<number> {
    return this.#p.queue.depth();
  }

  /** Cluster mode: whether Redis is reachable now; null for the embedded queue. */
  get redisConnected(): boolean | null {
    return this.#p.queue.clustered ? this.#p.reachable() : null;
  }

  /** Jobs now running (their ids). */
  runningIds(): string[] {
    return this.#p.runner.runningIds();
  }

  /**
   * Stops: running jobs are interrupted and go back in the queue (the next start resumes
   * them), generators close, the store closes. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#p.housekeeping.close();
      this.#p.images.close();
      await this.#p.queue.close();
      await this.#p.runner.close(new JobCancelledError('the server is shutting down'));
      await this.#p.pool.close();
      await this.#p.store.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

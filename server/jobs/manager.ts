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
 * Its parts: the queue (queue.ts; BullMQ in a cluster) picks what runs, the runner (runner.ts)
 * runs it, the layout (layout.ts) owns the data folder, recovery and expiry, intake.ts takes
 * uploads in, progress.ts computes progress.
 */
import { rm } from 'node:fs/promises';
import { pino } from 'pino';
import type { StageLogger } from '../inference/index.js';
import type { JobRecord } from '../contract/index.js';
import type { JobManagerOptions, JobsConfig, SubmitRequest } from './options.js';
import {
  BusyError,
  ClosedError,
  JobCancelledError,
  JobNotFoundError,
  JobStateError,
  StoreError,
  asCycleStreamError,
} from '../shared/errors.js';
import { hashToken, tokenIsOneOf } from '../shared/tokens.js';
import { authorizeRow, type JobCredentials } from './access.js';
import { ImageTranslator } from './images.js';
import { toJobRecord } from './job-info.js';
import { assertModelAvailable, checkJobRequest, type JobRequest, checkQueueCapacity, probeUpload, storeUpload } from './intake.js';
import { GeneratorPool } from './pool.js';
import type { JobRow } from './store.js';
import type { JobRecords } from './records.js';
import { JobRunner } from './runner.js';
import { JobLayout, sweepIntervalMs } from './layout.js';
import type { JobQueue } from './queue.js';
import { openJobQueue, openJobStores, type JobStores } from './open-queue.js';
import { OrphanSweeper } from './orphans.js';
import type { ImageResult } from './translate-image.js';

export class JobManager {
  readonly #config: JobsConfig;
  readonly #stores: JobStores;
  readonly #store: JobRecords;
  readonly #pool: GeneratorPool;
  readonly #images: ImageTranslator;
  readonly #runner: JobRunner;
  readonly #queue: JobQueue;
  readonly #layout: JobLayout;
  readonly #log: StageLogger;
  readonly #opts: JobManagerOptions;
  readonly #sweepTimer: NodeJS.Timeout;
  readonly #orphans: OrphanSweeper | null;
  #closing: Promise<void> | null = null;

  constructor(opts: JobManagerOptions) {
    this.#opts = opts;
    this.#config = opts.config;
    this.#log = opts.logger ?? pino({ level: 'silent' });
    this.#layout = new JobLayout(this.#config.dataDir);
    this.#stores = openJobStores(this.#config, this.#layout.sqliteFile, opts.openStore);
    this.#store = this.#stores.records;
    this.#pool = new GeneratorPool({ host: opts.host });
    this.#images = new ImageTranslator(this.#config, this.#pool);
    this.#runner = new JobRunner({
      store: this.#store,
      pool: this.#pool,
      layout: this.#layout,
      log: this.#log,
      onChange: (id) => void this.#emitUpdate(id),
      onProgress: opts.onProgress,
      progressIntervalMs: opts.progressIntervalMs,
    });
    this.#recover();
    void this.sweep();
    this.#sweepTimer = setInterval(() => {
      void this.sweep();
      void this.#orphans?.sweep();
    }, sweepIntervalMs(this.#config.jobTtlHours * 3_600_000));
    this.#sweepTimer.unref();
    const queue = openJobQueue({ config: this.#config, stores: this.#stores, runner: this.#runner, log: this.#log, name: opts.queueName });
    this.#queue = queue;
    // Cluster mode: folders no job owns, which a single node removes in #recover.
    this.#orphans = this.#config.redisUrl
      ? new OrphanSweeper(this.#layout, { reachable: () => this.#reachable, hasRecord: async (id) => (await this.#store.get(id)) !== null, queueHolds: (id) => queue.holds(id) }, this.#log)
      : null;
  }

  /** Cluster mode: removes job folders that no job owns, past a grace period (orphans.ts); returns how many. Never throws. */
  sweepOrphans(nowMs = Date.now()): Promise<number> {
    return this.#closing || !this.#orphans ? Promise.resolve(0) : this.#orphans.sweep(nowMs);
  }

  /** Where uploads in flight are written. */
  get uploadsDir(): string {
    return this.#layout.uploadsDir;
  }

  get maxUploadBytes(): number {
    return Math.floor(this.#config.maxUploadMb * 1024 * 1024);
  }

  /** A fresh path for an upload in flight; nothing there survives a restart. */
  uploadTempPath(): string {
    return this.#layout.uploadTempPath();
  }

  /** Start-up: uploads in flight were never accepted; jobs that were running go back in the queue. */
  #recover(): void {
    // In a cluster the other nodes' runs and uploads are live: BullMQ's stalled check and reconcile recover instead.
    if (this.#stores.kind !== 'sqlite') return;
    const sqlite = this.#stores.records;
    const requeued = sqlite.requeueInterrupted();
    if (requeued.length) this.#log.info({ jobs: requeued }, 'jobs interrupted by a restart are queued again');
    this.#layout.recover(sqlite);
  }

  /** Deletes ended jobs past their time to live; returns how many. Runs from a timer: never throws. */
  async sweep(nowMs = Date.now()): Promise<number> {
    if (this.#closing) return 0;
    try {
      const cutoff = nowMs - this.#config.jobTtlHours * 3_600_000;
      const ids = await this.#store.expired(cutoff);
      for (const id of ids) await this.#deleteJob(id);
      if (ids.length) this.#log.info({ jobs: ids.length }, 'expired jobs deleted');
      return ids.length;
    } catch (err) {
      this.#log.error({ err: asCycleStreamError(err, StoreError).message }, 'job clean-up failed; trying again at the next sweep');
      return 0;
    }
  }

  async #deleteJob(id: string): Promise<void> {
    const row = await this.#store.get(id);
    await this.#store.delete(id);
    this.#layout.removeJob(id);
    if (row) this.#opts.onUpdate?.({ ...this.#info(row), state: 'deleted' });
  }

  /** Refuses a new job when the queue (503), or this client's share of it (429), is full. */
  async checkCapacity(client?: string): Promise<void> {
    if (this.#closing) throw new ClosedError('the server is shutting down');
    if (!this.#reachable) throw new BusyError('the job queue is unreachable; try again shortly', 5);
    await checkQueueCapacity(this.#store, this.#config, client);
  }

  /** Validates a job request (model, smoothing, output size) before its upload is read. Returns the model id. */
  checkRequest(req: JobRequest): Promise<string> {
    return checkJobRequest(this.#config, req);
  }

  /** Refuses an image translation now if the image queue is full (before the upload is read). */
  checkImageCapacity(): void {
    if (this.#closing) throw new ClosedError('the server is shutting down');
    this.#images.checkCapacity();
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
      const { probe, out } = await probeUpload(req.tempPath, JSON.stringify(req.inputName), { width: req.outputWidth, height: req.outputHeight }, this.#config);
      // Checked again: the probe took time, and other uploads may have been accepted meanwhile.
      await this.checkCapacity(req.client);
      const { row, token } = await storeUpload(this.#store, this.#layout.jobsDir, this.#config, {
        tempPath: req.tempPath,
        inputName: req.inputName,
        modelId,
        smoothing: req.smoothing ?? this.#config.smoothing,
        client: req.client ?? null,
        probe,
        out,
      });
      const info = this.#info(row);
      this.#opts.onUpdate?.(info);
      await this.#queue.enqueue(row.id);
      return { ...info, token };
    } finally {
      await rm(req.tempPath, { force: true }).catch(() => undefined);
    }
  }

  /** The job, if the credentials hold its token (or an operator token); see access.ts for the errors. */
  async authorize(id: string, creds: JobCredentials): Promise<JobRecord> {
    return this.#info(authorizeRow(await this.#store.get(id), id, creds));
  }

  /** For `job:watch` on socket.io: one token, the job's own or an operator token. */
  authorizeWatch(id: string, token: string): Promise<JobRecord> {
    return this.authorize(id, this.credentials([token]));
  }

  /** Credentials from the tokens a caller presented: operator when one of them is an OPERATOR_TOKENS token. */
  credentials(tokens: readonly string[]): JobCredentials {
    const ops = this.#config.operatorTokens;
    return { tokens, operator: ops.length > 0 && tokens.some((t) => tokenIsOneOf(t, ops)) };
  }

  async get(id: string): Promise<JobRecord> {
    const row = await this.#store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    return this.#info(row);
  }

  /** Every job (newest first): for operators and tests. */
  async list(): Promise<JobRecord[]> {
    return (await this.#store.list()).map((r) => this.#info(r));
  }

  /** The jobs these credentials may see: every job for an operator, else those whose tokens are presented. */
  async listFor(creds: JobCredentials): Promise<JobRecord[]> {
    const rows = await (creds.operator ? this.#store.list() : this.#store.listByTokenHashes(creds.tokens.map(hashToken)));
    return rows.map((r) => this.#info(r));
  }

  /** Where a done job's MP4 is. */
  async resultPath(id: string): Promise<string> {
    const row = await this.#store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    if (row.state !== 'done') throw new JobStateError(`job ${id} is ${row.state}; its result is not available`);
    return this.#layout.resultPath(id);
  }

  async inputPath(id: string): Promise<{ path: string; name: string; file: string }> {
    const row = await this.#store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    return { path: this.#layout.inputPath(row), name: row.inputName, file: row.inputFile };
  }

  /**
   * Cancels a running job (waiting for the run to let go of its files; the upload stays until
   * the job is deleted), or deletes a queued or ended job with its files at once. Returns the
   * job as it now is, or null when deleted.
   */
  async cancel(id: string): Promise<JobRecord | null> {
    const row = await this.#store.get(id);
    if (!row) throw new JobNotFoundError(`no job ${id}`);
    if (row.state !== 'running') {
      await this.#runner.settled(id);
      await this.#queue.remove(id);
      await this.#deleteJob(id);
      return null;
    }
    await this.#store.markCancelled(id, Date.now());
    await this.#runner.stop(id, new JobCancelledError('cancelled by request'));
    const info = await this.get(id);
    this.#opts.onUpdate?.(info);
    return info;
  }

  /** Translates one image with a pooled generator, within the image concurrency limit. */
  async translateImage(input: string | Buffer, modelId: string): Promise<ImageResult> {
    if (this.#closing) throw new ClosedError('the server is shutting down');
    return this.#images.translate(input, await assertModelAvailable(this.#config.modelsDir, modelId));
  }

  /** Emits a job's current state; a store that fails here only costs the event. */
  async #emitUpdate(id: string): Promise<void> {
    try {
      const row = await this.#store.get(id);
      if (row) this.#opts.onUpdate?.(this.#info(row));
    } catch (err) {
      this.#log.warn({ job: id, err: asCycleStreamError(err, StoreError).message }, 'job update not sent: the job store failed');
    }
  }

  #info(row: JobRow): JobRecord {
    return toJobRecord(row, row.state === 'running' ? this.#runner.counters(row.id) : undefined);
  }

  /** Jobs waiting for a worker (over the cluster in cluster mode). */
  queueDepth(): Promise<number> {
    return this.#queue.depth();
  }

  /** Cluster mode: whether Redis is reachable now; null for the embedded queue. */
  get redisConnected(): boolean | null {
    return this.#queue.clustered ? this.#reachable : null;
  }

  /** Cluster mode: the queue's and the records' connections to Redis are both up (each reconnects on its own). */
  get #reachable(): boolean {
    return this.#queue.reachable && (this.#stores.kind !== 'redis' || this.#stores.records.reachable);
  }

  /** Jobs now running (their ids). */
  runningIds(): string[] {
    return this.#runner.runningIds();
  }

  /**
   * Stops: running jobs are interrupted and go back in the queue (the next start resumes
   * them), generators close, the store closes. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sweepTimer);
      this.#orphans?.close();
      this.#images.close();
      await this.#queue.close();
      await this.#runner.close(new JobCancelledError('the server is shutting down'));
      await this.#pool.close();
      await this.#store.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Durable job records in SQLite (better-sqlite3, synchronous). A job's row is written only
 * after its upload sits in its final place, and with synchronous=FULL the row survives a
 * crash once insert() returns, so an upload the client saw accepted is never lost.
 */
import Database from 'better-sqlite3';
import type { JobSource, JobState } from '../contract/index.js';
import type { VideoProbe } from './probe.js';

export interface JobRow {
  id: string;
  state: JobState;
  modelId: string;
  smoothing: number;
  outputWidth: number;
  outputHeight: number;
  /** Short side the model sees, fixed at upload so a restarted job renders the same way. */
  processingShortSidePx: number;
  inputName: string;
  /** File name inside the job's folder. */
  inputFile: string;
  inputBytes: number;
  source: JobSource;
  /** The probe of the upload, so a (re)started job need not read the file twice. */
  probe: VideoProbe;
  framesDone: number;
  framesTotal: number;
  attempts: number;
  errorCode: string | null;
  errorMessage: string | null;
  resultBytes: number | null;
  createdAtMs: number;
  startedAtMs: number | null;
  finishedAtMs: number | null;
  /** SHA-256 (hex) of the job's token; null for jobs made before tokens (operators only). */
  tokenHash: string | null;
  /** Address of the client that made the job, for the per-client queue limit. */
  client: string | null;
}

interface DbRow {
  id: string;
  state: string;
  model_id: string;
  smoothing: number;
  output_width: number;
  output_height: number;
  processing_px: number;
  input_name: string;
  input_file: string;
  input_bytes: number;
  source: string;
  probe: string;
  frames_done: number;
  frames_total: number;
  attempts: number;
  error_code: string | null;
  error_message: string | null;
  result_bytes: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  token_hash: string | null;
  client: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  model_id TEXT NOT NULL,
  smoothing REAL NOT NULL,
  output_width INTEGER NOT NULL,
  output_height INTEGER NOT NULL,
  processing_px INTEGER NOT NULL,
  input_name TEXT NOT NULL,
  input_file TEXT NOT NULL,
  input_bytes INTEGER NOT NULL,
  source TEXT NOT NULL,
  probe TEXT NOT NULL,
  frames_done INTEGER NOT NULL DEFAULT 0,
  frames_total INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error_code TEXT,
  error_message TEXT,
  result_bytes INTEGER,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, seq);
`;

/** Columns added since the first schema; a database from before gets them on open. */
const ADDED_COLUMNS: [name: string, sql: string][] = [
  ['token_hash', 'ALTER TABLE jobs ADD COLUMN token_hash TEXT'],
  ['client', 'ALTER TABLE jobs ADD COLUMN client TEXT'],
];

function fromDb(r: DbRow): JobRow {
  return {
    id: r.id,
    state: r.state as JobState,
    modelId: r.model_id,
    smoothing: r.smoothing,
    outputWidth: r.output_width,
    outputHeight: r.output_height,
    processingShortSidePx: r.processing_px,
    inputName: r.input_name,
    inputFile: r.input_file,
    inputBytes: r.input_bytes,
    source: JSON.parse(r.source) as JobSource,
    probe: JSON.parse(r.probe) as VideoProbe,
    framesDone: r.frames_done,
    framesTotal: r.frames_total,
    attempts: r.attempts,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    resultBytes: r.result_bytes,
    createdAtMs: r.created_at,
    startedAtMs: r.started_at,
    finishedAtMs: r.finished_at,
    tokenHash: r.token_hash ?? null,
    client: r.client ?? null,
  };
}

export type NewJob = Omit<JobRow, 'state' | 'framesDone' | 'attempts' | 'errorCode' | 'errorMessage' | 'resultBytes' | 'startedAtMs' | 'finishedAtMs'>;

/** SQL list of the states a job holds a queue place in. */
const ACTIVE = "('queued', 'running')";

export class JobStore {
  readonly #db: Database.Database;

  constructor(path: string) {
    this.#db = new Database(path, { timeout: 5000 });
    this.#db.pragma('journal_mode = WAL');
    // FULL: a committed insert is on disk before the upload is acknowledged.
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(SCHEMA);
    const have = new Set((this.#db.pragma('table_info(jobs)') as { name: string }[]).map((c) => c.name));
    for (const [name, sql] of ADDED_COLUMNS) if (!have.has(name)) this.#db.exec(sql);
    this.#db.exec('CREATE INDEX IF NOT EXISTS jobs_token ON jobs (token_hash)');
  }

  insert(job: NewJob): JobRow {
    this.#db
      .prepare(
        `INSERT INTO jobs (id, state, model_id, smoothing, output_width, output_height, processing_px, input_name, input_file,
           input_bytes, source, probe, frames_total, created_at, token_hash, client)
         VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        job.id,
        job.modelId,
        job.smoothing,
        job.outputWidth,
        job.outputHeight,
        job.processingShortSidePx,
        job.inputName,
        job.inputFile,
        job.inputBytes,
        JSON.stringify(job.source),
        JSON.stringify(job.probe),
        job.framesTotal,
        job.createdAtMs,
        job.tokenHash,
        job.client,
      );
    return this.get(job.id)!;
  }

  get(id: string): JobRow | null {
    const row = this.#db.prepare<[string], DbRow>('SELECT * FROM jobs WHERE id = ?').get(id);
    return row ? fromDb(row) : null;
  }

  /** Newest first. */
  list(limit = 200): JobRow[] {
    return this.#db.prepare<[number], DbRow>('SELECT * FROM jobs ORDER BY seq DESC LIMIT ?').all(limit).map(fromDb);
  }

  /** Newest first: the jobs whose token hashes are given. */
  listByTokenHashes(hashes: readonly string[], limit = 200): JobRow[] {
    if (hashes.length === 0) return [];
    const marks = hashes.map(() => '?').join(', ');
    return this.#db
      .prepare<unknown[], DbRow>(`SELECT * FROM jobs WHERE token_hash IN (${marks}) ORDER BY seq DESC LIMIT ?`)
      .all(...hashes, limit)
      .map(fromDb);
  }

  /** Jobs holding a queue place (queued or running), over all clients or for one. */
  countActive(client?: string): number {
    const row =
      client === undefined
        ? this.#db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE state IN ${ACTIVE}`).get()
        : this.#db.prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE state IN ${ACTIVE} AND client = ?`).get(client);
    return row?.n ?? 0;
  }

  /** Oldest queued job, or null. */
  nextQueued(exclude: ReadonlySet<string>): JobRow | null {
    const rows = this.#db.prepare<[], DbRow>("SELECT * FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 64").all();
    const row = rows.find((r) => !exclude.has(r.id));
    return row ? fromDb(row) : null;
  }

  /** Moves queued -> running; false when someone else (a cancel) got there first. */
  markRunning(id: string, nowMs: number): boolean {
    const res = this.#db
      .prepare("UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?, frames_done = 0 WHERE id = ? AND state = 'queued'")
      .run(nowMs, id);
    return res.changes === 1;
  }

  saveProgress(id: string, framesDone: number, framesTotal: number): void {
    this.#db.prepare("UPDATE jobs SET frames_done = ?, frames_total = ? WHERE id = ? AND state = 'running'").run(framesDone, framesTotal, id);
  }

  /** False when the job no longer runs (in a cluster, cancelled by a request to another node). */
  isRunning(id: string): boolean {
    return this.#db.prepare<[string], { state: string }>('SELECT state FROM jobs WHERE id = ?').get(id)?.state === 'running';
  }

  /** Ids of the queued jobs, oldest first. */
  queuedIds(limit = 1000): string[] {
    return this.#db
      .prepare<[number], { id: string }>("SELECT id FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT ?")
      .all(limit)
      .map((r) => r.id);
  }

  /** Running -> done; false when the job was cancelled in the meantime. */
  markDone(id: string, nowMs: number, resultBytes: number, framesDone: number): boolean {
    const res = this.#db
      .prepare("UPDATE jobs SET state = 'done', finished_at = ?, result_bytes = ?, frames_done = ?, frames_total = ? WHERE id = ? AND state = 'running'")
      .run(nowMs, resultBytes, framesDone, framesDone, id);
    return res.changes === 1;
  }

  /** Queued or running -> failed; an ended job keeps its state. */
  markFailed(id: string, nowMs: number, code: string, message: string): void {
    this.#db
      .prepare("UPDATE jobs SET state = 'failed', finished_at = ?, error_code = ?, error_message = ? WHERE id = ? AND state IN ('queued', 'running')")
      .run(nowMs, code, message, id);
  }

  /** Cancels a queued or running job; false when it had already ended. */
  markCancelled(id: string, nowMs: number): boolean {
    const res = this.#db
      .prepare("UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? AND state IN ('queued', 'running')")
      .run(nowMs, id);
    return res.changes === 1;
  }

  /** Back in the queue: the server stopped while the job ran. */
  requeue(id: string): void {
    this.#db.prepare("UPDATE jobs SET state = 'queued', frames_done = 0 WHERE id = ? AND state = 'running'").run(id);
  }

  /** At start-up: jobs that were running when the process died go back in the queue. */
  requeueInterrupted(): string[] {
    const ids = this.#db.prepare<[], { id: string }>("SELECT id FROM jobs WHERE state = 'running'").all().map((r) => r.id);
    this.#db.prepare("UPDATE jobs SET state = 'queued', frames_done = 0 WHERE state = 'running'").run();
    return ids;
  }

  /** Ended jobs older than the cutoff. */
  expired(cutoffMs: number): string[] {
    return this.#db
      .prepare<[number], { id: string }>("SELECT id FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND finished_at < ?")
      .all(cutoffMs)
      .map((r) => r.id);
  }

  allIds(): Set<string> {
    return new Set(this.#db.prepare<[], { id: string }>('SELECT id FROM jobs').all().map((r) => r.id));
  }

  delete(id: string): void {
    this.#db.prepare('DELETE FROM jobs WHERE id = ?').run(id);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

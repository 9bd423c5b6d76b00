/**
 * The jobs' layout on disk, and the two things done to it as a whole: recovery at start-up
 * and expiry of ended jobs.
 *
 * Data folder: jobs.sqlite (embedded queue only), uploads/<random>.part (uploads in flight,
 * never accepted yet), jobs/<id>/input.<ext of the detected container>,
 * jobs/<id>/output.partial.mp4 while running, jobs/<id>/result.mp4.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { JobRow } from './store.js';

/** What recovery and expiry need from the job records. */
export interface LayoutRecords {
  allIds(): Set<string>;
  expired(cutoffMs: number): string[];
}

export class JobLayout {
  readonly dataDir: string;
  readonly uploadsDir: string;
  readonly jobsDir: string;

  constructor(dataDir: string) {
    this.dataDir = path.resolve(dataDir);
    this.uploadsDir = path.join(this.dataDir, 'uploads');
    this.jobsDir = path.join(this.dataDir, 'jobs');
    mkdirSync(this.uploadsDir, { recursive: true });
    mkdirSync(this.jobsDir, { recursive: true });
  }

  get sqliteFile(): string {
    return path.join(this.dataDir, 'jobs.sqlite');
  }

  /** A fresh path for an upload in flight; nothing there survives a restart. */
  uploadTempPath(): string {
    return path.join(this.uploadsDir, `${randomUUID()}.part`);
  }

  jobDir(id: string): string {
    return path.join(this.jobsDir, id);
  }

  inputPath(row: Pick<JobRow, 'id' | 'inputFile'>): string {
    return path.join(this.jobsDir, row.id, row.inputFile);
  }

  resultPath(id: string): string {
    return path.join(this.jobsDir, id, 'result.mp4');
  }

  partialPath(id: string): string {
    return path.join(this.jobsDir, id, 'output.partial.mp4');
  }

  /**
   * Start-up of a node that owns the folder alone: uploads in flight were never accepted,
   * folders without a record were never acknowledged, partial outputs are restarted from zero.
   * `clearUploads` is false where other nodes share the folder (their uploads are in flight).
   */
  recover(records: LayoutRecords, clearUploads = true): void {
    if (clearUploads) for (const name of readdirSync(this.uploadsDir)) rmSync(path.join(this.uploadsDir, name), { force: true, recursive: true });
    const known = records.allIds();
    for (const name of readdirSync(this.jobsDir)) {
      const dir = path.join(this.jobsDir, name);
      // A folder without a row is an upload that crashed between the move and the insert: never acknowledged.
      if (!known.has(name)) rmSync(dir, { recursive: true, force: true });
      else rmSync(path.join(dir, 'output.partial.mp4'), { force: true });
    }
  }

  /**
   * Every folder under jobs/, with the last time it or a file in it changed (a run writing its
   * partial output counts). A folder that vanishes meanwhile is left out.
   */
  jobFolders(): { id: string; lastChangeMs: number }[] {
    const out: { id: string; lastChangeMs: number }[] = [];
    for (const id of readdirSync(this.jobsDir)) {
      const dir = this.jobDir(id);
      try {
        let last = statSync(dir).mtimeMs;
        for (const name of readdirSync(dir)) last = Math.max(last, statSync(path.join(dir, name), { throwIfNoEntry: false })?.mtimeMs ?? 0);
        out.push({ id, lastChangeMs: last });
      } catch {
        // Removed by another node (or not a folder): nothing to sweep.
      }
    }
    return out;
  }

  /** The files of one job, gone. */
  removeJob(id: string): void {
    rmSync(this.jobDir(id), { recursive: true, force: true });
  }
}

/** How often expiry runs for a given time to live: a quarter of it, within 1 minute and 1 hour. */
export function sweepIntervalMs(ttlMs: number): number {
  return Math.max(60_000, Math.min(ttlMs / 4, 3_600_000));
}

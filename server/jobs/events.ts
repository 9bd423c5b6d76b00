/**
 * The job manager's event fan-out: a row becomes the JobRecord clients see (with the live
 * counters of its run while it runs in this process) and goes to the manager's onUpdate.
 */
import type { StageLogger } from '../inference/index.js';
import type { JobRecord } from '../contract/index.js';
import { StoreError, asCycleStreamError } from '../shared/errors.js';
import { toJobRecord } from './job-info.js';
import type { RunCounters } from './progress.js';
import type { JobRecords } from './records.js';
import type { JobRow } from './store.js';

export interface JobEventsOptions {
  store: JobRecords;
  /** The live counters of a job running here, if it is (the runner's). */
  counters(id: string): RunCounters | undefined;
  onUpdate?: (job: JobRecord) => void;
  log: StageLogger;
}

export class JobEvents {
  readonly #opts: JobEventsOptions;

  constructor(opts: JobEventsOptions) {
    this.#opts = opts;
  }

  /** The job as clients see it now. */
  info(row: JobRow): JobRecord {
    return toJobRecord(row, row.state === 'running' ? this.#opts.counters(row.id) : undefined);
  }

  emit(job: JobRecord): void {
    this.#opts.onUpdate?.(job);
  }

  /** The job's last event: as it was, in the state 'deleted'. */
  emitDeleted(row: JobRow): void {
    this.#opts.onUpdate?.({ ...this.info(row), state: 'deleted' });
  }

  /** Emits a job's current state; a store that fails here only costs the event. Never rejects. */
  async emitCurrent(id: string): Promise<void> {
    try {
      const row = await this.#opts.store.get(id);
      if (row) this.#opts.onUpdate?.(this.info(row));
    } catch (err) {
      this.#opts.log.warn({ job: id, err: asCycleStreamError(err, StoreError).message }, 'job update not sent: the job store failed');
    }
  }
}

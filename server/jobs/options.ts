/**
 * What a JobManager is built from (config slice, stages, callbacks) and what submit() takes.
 */
import type { Config } from '../config.js';
import type { InferenceHost, StageLogger } from '../inference/index.js';
import type { JobProgress, JobRecord } from '../contract/index.js';
import type { JobRequest } from './intake.js';
import type { JobStore } from './store.js';

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
  | 'maxJobDurationS'
  | 'maxJobFrames'
  | 'maxQueuedJobs'
  | 'maxQueuedJobsPerClient'
  | 'maxImageAspectRatio'
  | 'maxConcurrentImages'
  | 'maxQueuedImages'
  | 'operatorTokens'
  | 'redisUrl'
  | 'jobStalledMs'
>;

export interface JobManagerOptions {
  config: JobsConfig;
  host: InferenceHost;
  logger?: StageLogger;
  onUpdate?: (job: JobRecord) => void;
  onProgress?: (progress: JobProgress) => void;
  /** Progress events per job at most this often. Default 250 ms. */
  progressIntervalMs?: number;
  /** Opens the SQLite job store (one node; a cluster keeps its records in Redis); tests pass one that fails on cue. Default: a JobStore on the file. */
  openStore?: (file: string) => JobStore;
  /** Cluster mode: the BullMQ queue's name; tests give each cluster its own. */
  queueName?: string;
}

export type { JobRequest };

export interface SubmitRequest extends JobRequest {
  /** The upload, somewhere under uploadsDir; moved into the job's folder when accepted. */
  tempPath: string;
  /** Name the client gave the file (shown in lists, never used as a path or to pick a demuxer). */
  inputName: string;
  /** The client's address, for the per-client queue limit. */
  client?: string;
}

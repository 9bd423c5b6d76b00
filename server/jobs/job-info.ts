/**
 * A job as clients see it (JobRecord, JobProgress) from its stored row and, while it runs, the
 * live counters of its run (progress.ts). The URLs it is served under are the HTTP layer's
 * (http/job-urls.ts).
 */
import type { JobProgress, JobRecord, JobSource } from '../contract/index.js';
import type { CycleStreamError } from '../shared/errors.js';
import type { VideoProbe } from './probe.js';
import { progressOf, type RunCounters } from './progress.js';
import type { JobRow } from './store.js';

export function toSource(p: VideoProbe): JobSource {
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

/** The job as clients see it; `run` is its live run, if it is running in this process. */
export function toJobRecord(row: JobRow, run: RunCounters | undefined): JobRecord {
  const progress: JobProgress = run
    ? progressOf(row.id, row.state, run)
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
  };
}

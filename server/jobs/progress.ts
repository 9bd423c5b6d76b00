/**
 * The progress calculator: a run's counters (frames done, the speed over the last few
 * seconds) and the JobProgress they give. Pure: time comes in as an argument.
 */
import type { JobInfo, JobProgress } from '../contract/index.js';

const SPEED_WINDOW_MS = 5000;

/** A run's counters, updated from translateVideo's progress callback. */
export interface RunCounters {
  framesDone: number;
  framesTotal: number;
  samples: { atMs: number; frames: number }[];
}

export function recordProgress(run: RunCounters, nowMs: number, framesDone: number, framesTotal: number): void {
  run.framesDone = framesDone;
  run.framesTotal = framesTotal;
  run.samples.push({ atMs: nowMs, frames: framesDone });
  while (run.samples.length > 2 && nowMs - run.samples[0]!.atMs > SPEED_WINDOW_MS) run.samples.shift();
}

export function progressOf(id: string, state: JobInfo['state'], run: RunCounters): JobProgress {
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

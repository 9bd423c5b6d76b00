import type { JobInfo } from './contract';

/** Job states that can still change, and so can be cancelled and are polled. */
export const ACTIVE_STATES: ReadonlySet<string> = new Set(['queued', 'running']);

/** The line under a job's progress bar. */
export function progressLabel(job: JobInfo): string {
  switch (job.state) {
    case 'queued':
      return 'Waiting for its turn…';
    case 'running': {
      const parts = [`${job.framesDone} / ${job.framesTotal} frames`];
      if (job.fps > 0) parts.push(`${job.fps.toFixed(1)} fps`);
      if (job.etaS !== null) parts.push(`ETA ${formatDuration(job.etaS)}`);
      return parts.join(' · ');
    }
    case 'done':
      return `Done: ${job.framesDone} frames`;
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return `Cancelled after ${job.framesDone} frames`;
    default:
      return job.state;
  }
}

export function formatDuration(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.ceil(s - m * 60)} s`;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} kB`;
  return `${n} B`;
}

/** The file extension for a translated image's MIME type, for its download name. */
export function extensionOf(type: string): string {
  return type === 'image/jpeg' ? 'jpg' : type === 'image/webp' ? 'webp' : 'png';
}

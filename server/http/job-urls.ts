/**
 * The URLs a job is served under. They name this layer's routes (jobs-api.ts), so they are
 * built here and added to what the jobs stage returns, for HTTP replies and socket events alike.
 */
import type { JobInfo, JobRecord } from '../contract/index.js';

export function jobPath(id: string): string {
  return `/api/jobs/${id}`;
}

/** `resultUrl` only once the result exists; `inputUrl` always (the original is kept until the job goes). */
export function withJobUrls<T extends JobRecord>(job: T): T & Pick<JobInfo, 'resultUrl' | 'inputUrl'> {
  return { ...job, resultUrl: job.state === 'done' ? `${jobPath(job.id)}/result` : null, inputUrl: `${jobPath(job.id)}/input` };
}

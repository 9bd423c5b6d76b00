/**
 * A job client over real HTTP, as the web page and scripts use the API: multipart upload with
 * the form fields before the file, then every request about a job with its token.
 */
import assert from 'node:assert/strict';
import type { JobCreated, JobInfo } from '../../server/contract/index.js';
import { waitFor } from './app.js';

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** POST /api/jobs; the fields go in before the file, as the API requires. */
export async function uploadJob(
  base: string,
  file: Blob,
  name: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  form.set('file', file, name);
  const res = await fetch(`${base}/api/jobs`, { method: 'POST', body: form, headers });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** Uploads and insists on 201: the job with its token. */
export async function createJob(base: string, file: Blob, name: string, fields: Record<string, string>): Promise<JobCreated> {
  const res = await uploadJob(base, file, name, fields);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as JobCreated;
}

export async function getJob(base: string, id: string, token: string): Promise<JobInfo> {
  const res = await fetch(`${base}/api/jobs/${id}`, { headers: bearer(token) });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as JobInfo;
}

export async function waitEnded(base: string, id: string, token: string, timeoutMs = 60_000): Promise<JobInfo> {
  let job: JobInfo | null = null;
  const ok = await waitFor(async () => {
    job = await getJob(base, id, token);
    return job.state === 'done' || job.state === 'failed' || job.state === 'cancelled';
  }, timeoutMs, 100);
  assert.ok(ok, `job ${id} did not end: ${JSON.stringify(job)}`);
  return job!;
}

import { ClientError } from './client-error';
import type { JobCreated, JobInfo, ServerErrorCode } from './contract';

const REQUEST_TIMEOUT_MS = 10_000;

async function errorFrom(res: Response, what: string): Promise<ClientError> {
  try {
    const body = (await res.json()) as { error?: { code: ServerErrorCode; message: string } };
    if (body.error) return new ClientError(body.error.code, body.error.message);
  } catch {
    // Not JSON: fall through to the status line.
  }
  return new ClientError('UNKNOWN', `${what} failed (HTTP ${res.status}).`);
}

async function request(path: string, init: RequestInit, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, cache: 'no-store', signal: init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw new ClientError('SERVER_UNREACHABLE', `Could not reach the server (${what}).`, { cause: err });
  }
  if (!res.ok) throw await errorFrom(res, what);
  return res;
}

/** The jobs these tokens open (this browser's own), newest first. */
export async function fetchJobs(tokens: string[], signal?: AbortSignal): Promise<JobInfo[]> {
  if (tokens.length === 0) return [];
  const res = await request('/api/jobs', { signal, headers: { accept: 'application/json', 'x-job-tokens': tokens.join(',') } }, 'listing jobs');
  return (await res.json()) as JobInfo[];
}

export async function fetchJob(id: string, token: string): Promise<JobInfo> {
  const res = await request(`/api/jobs/${id}`, { headers: { accept: 'application/json', authorization: `Bearer ${token}` } }, 'reading the job');
  return (await res.json()) as JobInfo;
}

/** Cancels a running job; deletes a queued or ended one (then resolves to null). */
export async function cancelJob(id: string, token: string): Promise<JobInfo | null> {
  const res = await request(`/api/jobs/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }, 'cancelling the job');
  return res.status === 204 ? null : ((await res.json()) as JobInfo);
}

export interface UploadHandle {
  /** The new job with its token (keep it: every later request about the job needs it). */
  promise: Promise<JobCreated>;
  abort(): void;
}

/**
 * Uploads with XMLHttpRequest rather than fetch: only XHR reports upload progress, which a
 * person sending a few hundred megabytes wants to see. The fields go before the file: the
 * server checks them before it stores a byte of the upload.
 */
export function uploadVideo(
  file: File,
  fields: { modelId: string; smoothing: number; size: string },
  onProgress: (fraction: number) => void,
): UploadHandle {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<JobCreated>((resolve, reject) => {
    const form = new FormData();
    form.set('modelId', fields.modelId);
    form.set('smoothing', String(fields.smoothing));
    if (fields.size) form.set('size', fields.size);
    form.set('file', file, file.name);
    xhr.open('POST', '/api/jobs');
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      const body = xhr.response as (JobCreated & { error?: undefined }) | { error?: { code: ServerErrorCode; message: string } } | null;
      if (xhr.status === 201 && body && !('error' in body && body.error)) resolve(body as JobCreated);
      else if (body && 'error' in body && body.error) reject(new ClientError(body.error.code, body.error.message));
      else reject(new ClientError('UNKNOWN', `The upload failed (HTTP ${xhr.status}).`));
    };
    // The server cuts an upload over its size limit off mid-transfer; the browser sees a network error.
    xhr.onerror = () =>
      reject(new ClientError('UPLOAD_TOO_LARGE', 'The upload was cut off. The file is probably larger than the server accepts, or the connection dropped.'));
    xhr.onabort = () => reject(new ClientError('SESSION_CLOSED', 'The upload was cancelled.'));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

export interface TranslatedImage {
  url: string;
  width: number;
  height: number;
  type: string;
  bytes: number;
}

export async function translateImageFile(file: File, modelId: string): Promise<TranslatedImage> {
  const form = new FormData();
  form.set('modelId', modelId);
  form.set('file', file, file.name);
  const res = await request('/api/translate/image', { method: 'POST', body: form, signal: AbortSignal.timeout(120_000) }, 'translating the image');
  const blob = await res.blob();
  return {
    url: URL.createObjectURL(blob),
    width: Number(res.headers.get('x-image-width') ?? 0),
    height: Number(res.headers.get('x-image-height') ?? 0),
    type: blob.type,
    bytes: blob.size,
  };
}

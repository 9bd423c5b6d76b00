import { ClientError } from './client-error';
import type { JobInfo, ServerErrorCode } from './contract';

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

export async function fetchJobs(signal?: AbortSignal): Promise<JobInfo[]> {
  const res = await request('/api/jobs', { signal, headers: { accept: 'application/json' } }, 'listing jobs');
  return (await res.json()) as JobInfo[];
}

export async function fetchJob(id: string): Promise<JobInfo> {
  const res = await request(`/api/jobs/${id}`, { headers: { accept: 'application/json' } }, 'reading the job');
  return (await res.json()) as JobInfo;
}

/** Cancels a queued or running job; deletes an ended one (then resolves to null). */
export async function cancelJob(id: string): Promise<JobInfo | null> {
  const res = await request(`/api/jobs/${id}`, { method: 'DELETE' }, 'cancelling the job');
  return res.status === 204 ? null : ((await res.json()) as JobInfo);
}

export interface UploadHandle {
  promise: Promise<JobInfo>;
  abort(): void;
}

/**
 * Uploads with XMLHttpRequest rather than fetch: only XHR reports upload progress, which a
 * person sending a few hundred megabytes wants to see.
 */
export function uploadVideo(
  file: File,
  fields: { modelId: string; smoothing: number; size: string },
  onProgress: (fraction: number) => void,
): UploadHandle {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<JobInfo>((resolve, reject) => {
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
      const body = xhr.response as (JobInfo & { error?: undefined }) | { error?: { code: ServerErrorCode; message: string } } | null;
      if (xhr.status === 201 && body && !('error' in body && body.error)) resolve(body as JobInfo);
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

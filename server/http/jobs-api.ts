/**
 * Video jobs and single images over HTTP:
 *   POST   /api/jobs                multipart: file, modelId, smoothing?, size? ("WxH", "Wx" or "xH")
 *   GET    /api/jobs                every job, newest first
 *   GET    /api/jobs/:id            one job with its progress
 *   DELETE /api/jobs/:id            cancels a queued or running job; deletes an ended one (204)
 *   GET    /api/jobs/:id/result     the MP4 (range requests; ?download=1 to save)
 *   GET    /api/jobs/:id/input      the upload as it came
 *   POST   /api/translate/image     multipart (file, modelId) or a raw image body with ?modelId=
 */
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { z } from 'zod';
import type { JobManager } from '../jobs/index.js';
import { BadRequestError, MethodNotAllowedError, UnsupportedMediaError, UploadTooLargeError } from '../shared/errors.js';
import { mediaType } from './body.js';
import { sendFile } from './files.js';
import { sendError, sendJson } from './respond.js';
import { receiveMultipart, receiveRaw, type ReceivedUpload } from './upload.js';

const optionalNumber = (schema: z.ZodNumber) =>
  z.preprocess((v) => (v === undefined || v === null || (typeof v === 'string' && v.trim() === '') ? undefined : Number(v)), schema.optional());

const jobFieldsSchema = z.object({
  modelId: z.string().trim().min(1, 'modelId is required').max(200),
  smoothing: optionalNumber(z.number().min(0).max(1)),
  size: z
    .string()
    .trim()
    .regex(/^(\d+)?[xX](\d+)?$/, 'size must look like 1280x720, 1280x or x720')
    .optional()
    .or(z.literal('')),
});

function parseFields(raw: Record<string, string>): z.output<typeof jobFieldsSchema> {
  const res = jobFieldsSchema.safeParse({ ...raw, modelId: raw.modelId ?? raw.model });
  if (!res.success) {
    const issue = res.error.issues[0];
    throw new BadRequestError(`${issue?.path.join('.') || 'fields'}: ${issue?.message ?? 'invalid'}`);
  }
  return res.data;
}

function parseSize(size: string | undefined): { width: number | null; height: number | null } {
  if (!size) return { width: null, height: null };
  const m = /^(\d+)?[xX](\d+)?$/.exec(size)!;
  const width = m[1] ? Number(m[1]) : null;
  const height = m[2] ? Number(m[2]) : null;
  if (width === null && height === null) throw new BadRequestError('size needs a width, a height or both');
  return { width, height };
}

const VIDEO_TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
  '.avi': 'video/x-msvideo',
};

/**
 * 413 with the connection closed behind it: the client may still be sending, and reading
 * the rest of a body over the cap is exactly what the cap is there to avoid.
 */
function sendTooLarge(req: IncomingMessage, res: ServerResponse, err: UploadTooLargeError): void {
  res.once('finish', () => req.socket.destroySoon?.() ?? req.socket.end());
  sendJson(res, err.status, { error: err.toJSON() }, { connection: 'close' });
}

async function withUpload<T>(req: IncomingMessage, res: ServerResponse, receive: () => Promise<ReceivedUpload>, use: (u: ReceivedUpload) => Promise<T>): Promise<T | undefined> {
  let upload: ReceivedUpload;
  try {
    upload = await receive();
  } catch (err) {
    if (err instanceof UploadTooLargeError) {
      sendTooLarge(req, res, err);
      return undefined;
    }
    // Refused before the body was read: drain it so the answer is not lost in a reset.
    req.resume();
    throw err;
  }
  try {
    return await use(upload);
  } finally {
    await rm(upload.path, { force: true }).catch(() => undefined);
  }
}

/** Handles the job and image routes; false when the path is none of them. */
export async function handleJobsApi(req: IncomingMessage, res: ServerResponse, url: URL, jobs: JobManager): Promise<boolean> {
  const p = url.pathname;
  if (p !== '/api/jobs' && !p.startsWith('/api/jobs/') && p !== '/api/translate/image') return false;
  try {
    await route(req, res, url, jobs);
  } catch (err) {
    if (!res.headersSent) sendError(res, err);
    else res.destroy();
  }
  return true;
}

async function route(req: IncomingMessage, res: ServerResponse, url: URL, jobs: JobManager): Promise<void> {
  const p = url.pathname;
  const method = req.method ?? 'GET';

  if (p === '/api/translate/image') {
    if (method !== 'POST') throw new MethodNotAllowedError(`${method} ${p}: use POST`);
    const type = mediaType(req);
    const opts = { path: jobs.uploadTempPath(), maxBytes: jobs.maxUploadBytes };
    const receive = type.startsWith('multipart/form-data')
      ? () => receiveMultipart(req, opts)
      : type.startsWith('image/')
        ? () => receiveRaw(req, opts)
        : null;
    if (!receive) {
      req.resume();
      throw new UnsupportedMediaError('send the image as multipart/form-data (fields file, modelId) or as a raw image/* body');
    }
    await withUpload(req, res, receive, async (upload) => {
      const modelId = upload.fields.modelId ?? upload.fields.model ?? url.searchParams.get('modelId') ?? url.searchParams.get('model') ?? '';
      if (!modelId) throw new BadRequestError('modelId is required');
      const out = await jobs.translateImage(upload.path, modelId);
      res.writeHead(200, {
        'content-type': out.contentType,
        'content-length': out.data.length,
        'cache-control': 'no-store',
        'x-image-width': String(out.width),
        'x-image-height': String(out.height),
      });
      res.end(out.data);
    });
    return;
  }

  if (p === '/api/jobs') {
    if (method === 'GET') {
      sendJson(res, 200, jobs.list());
      return;
    }
    if (method !== 'POST') throw new MethodNotAllowedError(`${method} ${p}: use GET or POST`);
    await withUpload(
      req,
      res,
      () => receiveMultipart(req, { path: jobs.uploadTempPath(), maxBytes: jobs.maxUploadBytes }),
      async (upload) => {
        const fields = parseFields({ ...Object.fromEntries(url.searchParams), ...upload.fields });
        const size = parseSize(fields.size || undefined);
        const job = await jobs.submit({
          tempPath: upload.path,
          inputName: upload.filename || 'upload',
          modelId: fields.modelId,
          smoothing: fields.smoothing,
          outputWidth: size.width,
          outputHeight: size.height,
        });
        sendJson(res, 201, job, { location: `/api/jobs/${job.id}` });
      },
    );
    return;
  }

  const m = /^\/api\/jobs\/([0-9a-f-]{36})(\/result|\/input)?$/.exec(p);
  if (!m) {
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${method} ${p}` } });
    return;
  }
  const id = m[1]!;
  const sub = m[2];
  if (!sub) {
    if (method === 'GET' || method === 'HEAD') {
      sendJson(res, 200, jobs.get(id));
      return;
    }
    if (method === 'DELETE') {
      const job = await jobs.cancel(id);
      if (job) sendJson(res, 200, job);
      else {
        res.writeHead(204, { 'cache-control': 'no-store' });
        res.end();
      }
      return;
    }
    throw new MethodNotAllowedError(`${method} ${p}: use GET or DELETE`);
  }
  if (method !== 'GET' && method !== 'HEAD') throw new MethodNotAllowedError(`${method} ${p}: use GET`);
  if (sub === '/result') {
    const file = await jobs.resultPath(id);
    const job = jobs.get(id);
    const stem = path.parse(job.inputName).name || 'video';
    await sendFile(req, res, file, {
      contentType: 'video/mp4',
      disposition: { type: url.searchParams.has('download') ? 'attachment' : 'inline', filename: `${stem}-${job.modelId}.mp4` },
    });
    return;
  }
  const input = await jobs.inputPath(id);
  await sendFile(req, res, input.path, {
    contentType: VIDEO_TYPES[path.extname(input.path).toLowerCase()] ?? 'application/octet-stream',
    disposition: { type: 'inline', filename: input.name },
  });
}

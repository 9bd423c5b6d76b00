/**
 * Video jobs and single images over HTTP:
 *   POST   /api/jobs                multipart: modelId, smoothing?, size? ("WxH", "Wx" or "xH"), then file
 *                                   (201: the job and its token; the fields must come before the file)
 *   GET    /api/jobs                the caller's jobs, newest first (X-Job-Tokens: t1,t2; all of them
 *                                   for an operator token in Authorization)
 *   GET    /api/jobs/:id            one job with its progress            (Authorization: Bearer <token>)
 *   DELETE /api/jobs/:id            cancels a running job; deletes a queued or ended one with its files (204)
 *   GET    /api/jobs/:id/result     the MP4 (range requests; ?download=1 to save; ?token= allowed)
 *   GET    /api/jobs/:id/input      the upload as it came (?token= allowed)
 *   POST   /api/translate/image     multipart (modelId, then file) or a raw image body with ?modelId=
 *
 * Every limit is checked before the work it guards: queue places and form fields before the
 * upload is stored, the container header before the job is accepted. A refusal is one log line.
 */
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { storedContentType } from '../codec/index.js';
import type { JobManager, JobRequest } from '../jobs/index.js';
import { BadRequestError, CycleStreamError, MethodNotAllowedError, NotFoundError, UnsupportedMediaError, UploadTooLargeError } from '../shared/errors.js';
import { parseWith } from '../shared/parse.js';
import { LIMITS } from '../contract/index.js';
import { presentedToken } from './access.js';
import { mediaType } from './body.js';
import { sendFile } from './files.js';
import { jobPath, withJobUrls } from './job-urls.js';
import { sendError, sendJson } from './respond.js';
import { receiveMultipart, receiveRaw, type ReceivedUpload } from './upload.js';

export interface JobsApiDeps {
  jobs: JobManager;
  /** X-Job-Tokens entries taken per request (MAX_JOB_TOKENS_PER_REQUEST). */
  maxTokensPerRequest: number;
  logger?: Pick<Logger, 'warn' | 'error'>;
}

const optionalNumber = (schema: z.ZodNumber) =>
  z.preprocess((v) => (v === undefined || v === null || (typeof v === 'string' && v.trim() === '') ? undefined : Number(v)), schema.optional());

const jobFieldsSchema = z.object({
  modelId: z.string().trim().min(1, 'modelId is required').max(LIMITS.modelIdChars),
  smoothing: optionalNumber(z.number().min(LIMITS.smoothing.min).max(LIMITS.smoothing.max)),
  size: z
    .string()
    .trim()
    .regex(/^(\d+)?[xX](\d+)?$/, 'size must look like 1280x720, 1280x or x720')
    .optional()
    .or(z.literal('')),
});

const parseJobFieldValues = parseWith(jobFieldsSchema, BadRequestError, 'fields');

/** The form fields (and query parameters) of a job request, validated. */
function parseJobFields(raw: Record<string, string>): JobRequest {
  const fields = parseJobFieldValues({ ...raw, modelId: raw.modelId ?? raw.model });
  const size = parseSize(fields.size || undefined);
  return { modelId: fields.modelId, smoothing: fields.smoothing, outputWidth: size.width, outputHeight: size.height };
}

function parseSize(size: string | undefined): { width: number | null; height: number | null } {
  if (!size) return { width: null, height: null };
  const m = /^(\d+)?[xX](\d+)?$/.exec(size)!;
  const width = m[1] ? Number(m[1]) : null;
  const height = m[2] ? Number(m[2]) : null;
  if (width === null && height === null) throw new BadRequestError('size needs a width, a height or both');
  return { width, height };
}

/** modelId missing when the file part starts: most likely sent after it, which this API does not read. */
function requireFieldsFirst(fields: Readonly<Record<string, string>>): void {
  if (!(fields.modelId ?? fields.model)) {
    throw new BadRequestError('modelId is required, and the form fields (modelId, smoothing, size) must come before the file part');
  }
}

/** The client's address, for per-client limits (an IPv4 address mapped into IPv6 counts as itself). */
function clientOf(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/**
 * 413 with the connection closed behind it: the client may still be sending, and reading
 * the rest of a body over the cap is exactly what the cap is there to avoid.
 */
function sendTooLarge(req: IncomingMessage, res: ServerResponse, err: UploadTooLargeError): void {
  res.once('finish', () => req.socket.destroySoon?.() ?? req.socket.end());
  sendJson(res, err.status, { error: err.toJSON() }, { connection: 'close' });
}

/** Reads and drops the rest of a refused body so the answer arrives, but never more than `maxBytes`. */
function drain(req: IncomingMessage, maxBytes: number): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) req.destroy();
  });
  req.resume();
}

async function withUpload<T>(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
  receive: () => Promise<ReceivedUpload>,
  use: (u: ReceivedUpload) => Promise<T>,
): Promise<T | undefined> {
  let upload: ReceivedUpload;
  try {
    upload = await receive();
  } catch (err) {
    if (err instanceof UploadTooLargeError) {
      sendTooLarge(req, res, err);
      return undefined;
    }
    // Refused before the body was read: drain it so the answer is not lost in a reset.
    drain(req, maxBytes);
    throw err;
  }
  try {
    return await use(upload);
  } finally {
    await rm(upload.path, { force: true }).catch(() => undefined);
  }
}

/** Handles the job and image routes; false when the path is none of them. */
export async function handleJobsApi(req: IncomingMessage, res: ServerResponse, url: URL, deps: JobsApiDeps): Promise<boolean> {
  const p = url.pathname;
  if (p !== '/api/jobs' && !p.startsWith('/api/jobs/') && p !== '/api/translate/image') return false;
  try {
    await route(req, res, url, deps);
  } catch (err) {
    logRefusal(req, p, err, deps);
    if (!res.headersSent) {
      // A body the route never read must still be drained (within the cap) for the answer to arrive.
      if (!req.complete && req.readableFlowing !== true) drain(req, deps.jobs.maxUploadBytes);
      sendError(res, err);
    } else res.destroy();
  }
  return true;
}

/** One log line per refusal over a limit (413, 429, 503), per refused kind of file (415), and per unexpected failure. */
function logRefusal(req: IncomingMessage, route: string, err: unknown, deps: JobsApiDeps): void {
  if (!(err instanceof CycleStreamError)) {
    deps.logger?.error({ err, route }, 'job request failed');
    return;
  }
  if (err.status === 413 || err.status === 415 || err.status === 429 || err.status >= 500) {
    deps.logger?.warn({ client: clientOf(req), route, code: err.code, status: err.status }, err.message);
  }
}

/** Tokens from Authorization (or ?token= where allowed) and X-Job-Tokens, capped in number. */
function credentialsOf(req: IncomingMessage, url: URL, deps: JobsApiDeps, allowQuery: boolean) {
  const tokens: string[] = [];
  const single = presentedToken(req, url, allowQuery);
  if (single) tokens.push(single);
  const list = req.headers['x-job-tokens'];
  if (typeof list === 'string') tokens.push(...list.split(',').map((t) => t.trim()).filter(Boolean));
  if (tokens.length > deps.maxTokensPerRequest) {
    throw new BadRequestError(`at most ${deps.maxTokensPerRequest} job tokens per request, got ${tokens.length}`);
  }
  if (tokens.some((t) => t.length > 200)) throw new BadRequestError('a job token is at most 200 characters');
  return deps.jobs.credentials(tokens);
}

async function route(req: IncomingMessage, res: ServerResponse, url: URL, deps: JobsApiDeps): Promise<void> {
  const { jobs } = deps;
  const p = url.pathname;
  const method = req.method ?? 'GET';
  const maxBytes = jobs.maxUploadBytes;

  if (p === '/api/translate/image') {
    if (method !== 'POST') throw new MethodNotAllowedError(`${method} ${p}: use POST`);
    jobs.checkImageCapacity();
    const type = mediaType(req);
    const opts = { path: jobs.uploadTempPath(), maxBytes };
    const queryModel = url.searchParams.get('modelId') ?? url.searchParams.get('model') ?? '';
    let receive: () => Promise<ReceivedUpload>;
    if (type.startsWith('multipart/form-data')) {
      receive = () =>
        receiveMultipart(req, {
          ...opts,
          beforeFile: async (fields) => {
            const modelId = fields.modelId ?? fields.model ?? queryModel;
            requireFieldsFirst({ modelId });
            await jobs.checkRequest({ modelId });
          },
        });
    } else if (type.startsWith('image/')) {
      if (!queryModel) throw new BadRequestError('modelId is required (?modelId= with a raw image body)');
      await jobs.checkRequest({ modelId: queryModel });
      receive = () => receiveRaw(req, opts);
    } else {
      throw new UnsupportedMediaError('send the image as multipart/form-data (fields modelId, then file) or as a raw image/* body');
    }
    await withUpload(req, res, maxBytes, receive, async (upload) => {
      const modelId = upload.fields.modelId ?? upload.fields.model ?? queryModel;
      const out = await jobs.translateImage(upload.path, modelId);
      res.writeHead(200, {
        'content-type': out.contentType,
        'content-length': out.data.length,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'x-image-width': String(out.width),
        'x-image-height': String(out.height),
      });
      res.end(out.data);
    });
    return;
  }

  if (p === '/api/jobs') {
    if (method === 'GET') {
      sendJson(res, 200, (await jobs.listFor(credentialsOf(req, url, deps, false))).map(withJobUrls));
      return;
    }
    if (method !== 'POST') throw new MethodNotAllowedError(`${method} ${p}: use GET or POST`);
    const client = clientOf(req);
    await jobs.checkCapacity(client);
    const query = Object.fromEntries(url.searchParams);
    await withUpload(
      req,
      res,
      maxBytes,
      () =>
        receiveMultipart(req, {
          path: jobs.uploadTempPath(),
          maxBytes,
          beforeFile: async (fields) => {
            const all = { ...query, ...fields };
            requireFieldsFirst(all);
            await jobs.checkRequest(parseJobFields(all));
          },
        }),
      async (upload) => {
        const fields = parseJobFields({ ...query, ...upload.fields });
        const job = await jobs.submit({ ...fields, tempPath: upload.path, inputName: upload.filename || 'upload', client });
        sendJson(res, 201, withJobUrls(job), { location: jobPath(job.id) });
      },
    );
    return;
  }

  const m = /^\/api\/jobs\/([0-9a-f-]{36})(\/result|\/input)?$/.exec(p);
  if (!m) {
    sendError(res, new NotFoundError(`no route ${method} ${p}`));
    return;
  }
  const id = m[1]!;
  const sub = m[2];
  if (!sub) {
    const job = await jobs.authorize(id, credentialsOf(req, url, deps, false));
    if (method === 'GET' || method === 'HEAD') {
      sendJson(res, 200, withJobUrls(job));
      return;
    }
    if (method === 'DELETE') {
      const after = await jobs.cancel(id);
      if (after) sendJson(res, 200, withJobUrls(after));
      else {
        res.writeHead(204, { 'cache-control': 'no-store' });
        res.end();
      }
      return;
    }
    throw new MethodNotAllowedError(`${method} ${p}: use GET or DELETE`);
  }
  if (method !== 'GET' && method !== 'HEAD') throw new MethodNotAllowedError(`${method} ${p}: use GET`);
  // <video src> and download links cannot send headers: these two take ?token= too.
  const job = await jobs.authorize(id, credentialsOf(req, url, deps, true));
  if (sub === '/result') {
    const file = await jobs.resultPath(id);
    const stem = path.parse(job.inputName).name || 'video';
    await sendFile(req, res, file, {
      contentType: 'video/mp4',
      disposition: { type: url.searchParams.has('download') ? 'attachment' : 'inline', filename: `${stem}-${job.modelId}.mp4` },
    });
    return;
  }
  const input = await jobs.inputPath(id);
  await sendFile(req, res, input.path, {
    contentType: storedContentType(input.file),
    disposition: { type: 'inline', filename: input.name },
  });
}

/**
 * Request bodies streamed straight to a file, never held whole in memory: multipart/form-data
 * (busboy) with one file part, or a raw body. Past `maxBytes` the upload stops, its partial
 * file is deleted, and the caller answers 413 and drops the connection.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { BadRequestError, CycleStreamError, UnsupportedMediaError, UploadTooLargeError, asCycleStreamError } from '../shared/errors.js';

export interface ReceivedUpload {
  /** The stored file; removed by whoever handles it next. */
  readonly path: string;
  readonly filename: string;
  readonly mimeType: string;
  readonly bytes: number;
  readonly fields: Readonly<Record<string, string>>;
}

export interface UploadOptions {
  /** Where the file goes (a fresh name under the uploads folder). */
  path: string;
  maxBytes: number;
  /** Name of the multipart file field. Default "file". */
  fileField?: string;
  /**
   * Called when the file part begins, with the fields sent before it: throwing refuses the
   * upload before a byte of the file is stored. Fields after the file are never seen here,
   * so clients must send them first (FormData keeps the order they were set in).
   */
  beforeFile?: (fields: Readonly<Record<string, string>>) => Promise<void> | void;
}

/** Room for multipart boundaries and a few small fields on top of the file itself. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

function mb(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
}

function tooLarge(maxBytes: number): UploadTooLargeError {
  return new UploadTooLargeError(`the upload is larger than the ${mb(maxBytes)} limit`);
}

async function syncAndClose(out: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject);
    out.end(() => resolve());
  });
  // Flushed to disk before the upload may be acknowledged as accepted.
  const fh = await open(out.path as string, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function receiveMultipart(req: IncomingMessage, opts: UploadOptions): Promise<ReceivedUpload> {
  const fileField = opts.fileField ?? 'file';
  const type = req.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('multipart/form-data')) {
    return Promise.reject(new UnsupportedMediaError(`send multipart/form-data with a "${fileField}" part (got ${type || 'no content type'})`));
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > opts.maxBytes + MULTIPART_OVERHEAD_BYTES) return Promise.reject(tooLarge(opts.maxBytes));

  return new Promise<ReceivedUpload>((resolve, reject) => {
    const fields: Record<string, string> = {};
    let out: WriteStream | null = null;
    let written: Promise<unknown> | null = null;
    let filename = '';
    let mimeType = '';
    let bytes = 0;
    let settled = false;

    const fail = (err: CycleStreamError) => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      out?.destroy();
      // Delete before answering, so nothing half-written is ever visible after the 4xx.
      void rm(opts.path, { force: true }).then(
        () => reject(err),
        () => reject(err),
      );
    };

    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: { files: 1, fileSize: opts.maxBytes, fields: 20, fieldSize: 4096, parts: 24 },
      });
    } catch (err) {
      reject(new BadRequestError(`bad multipart request: ${(err as Error).message}`));
      return;
    }

    bb.on('field', (name, value) => {
      fields[name] = value;
    });
    bb.on('file', (name, stream, info) => {
      if (name !== fileField || written) {
        stream.resume();
        return;
      }
      filename = info.filename ?? '';
      mimeType = info.mimeType;
      stream.on('limit', () => fail(tooLarge(opts.maxBytes)));
      // The file part is not read (busboy holds the request back) until the fields before it pass.
      const checked = Promise.resolve().then(() => opts.beforeFile?.({ ...fields }));
      written = checked.then(() => {
        if (settled) return;
        const file = createWriteStream(opts.path, { flags: 'wx' });
        out = file;
        stream.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        stream.pipe(file, { end: false });
        return new Promise<void>((res, rej) => {
          stream.once('end', () => res());
          stream.once('error', rej);
          file.once('error', rej);
        });
      });
      checked.catch((err: unknown) => {
        stream.resume();
        fail(asCycleStreamError(err, BadRequestError));
      });
      // After a failure nobody waits for it any more; the failure itself was already reported.
      written.catch(() => undefined);
    });
    bb.on('error', (err: Error) => fail(new BadRequestError(`bad multipart request: ${err.message}`)));
    bb.on('close', () => {
      if (settled) return;
      if (!written) {
        fail(new BadRequestError(`no "${fileField}" file in the request`));
        return;
      }
      written
        .then(() => {
          if (settled) return;
          if (!out) throw new Error('the file part was not stored');
          return syncAndClose(out);
        })
        .then(() => {
          if (settled) return;
          settled = true;
          resolve({ path: opts.path, filename, mimeType, bytes, fields });
        })
        .catch((err: unknown) =>
          fail(err instanceof CycleStreamError ? err : new BadRequestError(`storing the upload failed: ${(err as Error).message}`)),
        );
    });
    req.on('aborted', () => fail(new BadRequestError('the upload was interrupted')));
    req.on('error', () => fail(new BadRequestError('the upload was interrupted')));
    req.on('close', () => {
      if (!req.complete) fail(new BadRequestError('the upload was interrupted'));
    });
    req.pipe(bb);
  });
}

/** A raw request body (e.g. Content-Type: image/png) to a file, with the same cap. */
export function receiveRaw(req: IncomingMessage, opts: UploadOptions): Promise<ReceivedUpload> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > opts.maxBytes) return Promise.reject(tooLarge(opts.maxBytes));
  return new Promise<ReceivedUpload>((resolve, reject) => {
    const file = createWriteStream(opts.path, { flags: 'wx' });
    let bytes = 0;
    let settled = false;
    const fail = (err: CycleStreamError) => {
      if (settled) return;
      settled = true;
      req.unpipe(file);
      file.destroy();
      void rm(opts.path, { force: true }).then(
        () => reject(err),
        () => reject(err),
      );
    };
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > opts.maxBytes) fail(tooLarge(opts.maxBytes));
    });
    req.on('aborted', () => fail(new BadRequestError('the upload was interrupted')));
    req.on('error', () => fail(new BadRequestError('the upload was interrupted')));
    req.on('close', () => {
      if (!req.complete) fail(new BadRequestError('the upload was interrupted'));
    });
    file.on('error', (err) => fail(new BadRequestError(`storing the upload failed: ${err.message}`)));
    req.on('end', () => {
      if (settled) return;
      syncAndClose(file).then(
        () => {
          if (settled) return;
          settled = true;
          resolve({ path: opts.path, filename: '', mimeType: req.headers['content-type'] ?? '', bytes, fields: {} });
        },
        (err: unknown) => fail(new BadRequestError(`storing the upload failed: ${(err as Error).message}`)),
      );
    });
    req.pipe(file, { end: false });
  });
}

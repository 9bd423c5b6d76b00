/**
 * Sends a file with HTTP range support (one range per request, which is what <video> and
 * download managers ask for), so a result can be scrubbed in the browser and resumed.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { NotFoundError } from '../shared/errors.js';

export interface SendFileOptions {
  contentType: string;
  /** Sent as Content-Disposition; `attachment` makes browsers save instead of play. */
  disposition?: { type: 'inline' | 'attachment'; filename: string };
}

type Range = { start: number; end: number } | 'unsatisfiable' | null;

/** Parses a single `bytes=` range; multi-range requests get the whole file (allowed by RFC 9110). */
export function parseRange(header: string | undefined, size: number): Range {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

function contentDisposition(d: NonNullable<SendFileOptions['disposition']>): string {
  const ascii = d.filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `${d.type}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(d.filename)}`;
}

export async function sendFile(req: IncomingMessage, res: ServerResponse, file: string, opts: SendFileOptions): Promise<void> {
  let size: number;
  let mtime: Date;
  try {
    const s = await stat(file);
    size = s.size;
    mtime = s.mtime;
  } catch {
    throw new NotFoundError('the file is gone');
  }
  const etag = `"${size.toString(16)}-${Math.floor(mtime.getTime()).toString(16)}"`;
  const headers: Record<string, string | number> = {
    'content-type': opts.contentType,
    'accept-ranges': 'bytes',
    'last-modified': mtime.toUTCString(),
    etag,
    'cache-control': 'no-cache',
    // The type is the server's, from the detected container: browsers must not guess another.
    'x-content-type-options': 'nosniff',
  };
  if (opts.disposition) headers['content-disposition'] = contentDisposition(opts.disposition);

  const ifRange = req.headers['if-range'];
  const range = ifRange && ifRange !== etag ? null : parseRange(req.headers.range, size);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${size}`, 'content-length': 0 });
    res.end();
    return;
  }
  const start = range ? range.start : 0;
  const end = range ? range.end : size - 1;
  const length = size === 0 ? 0 : end - start + 1;
  if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  headers['content-length'] = length;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return;
  }
  try {
    await pipeline(createReadStream(file, { start, end }), res);
  } catch {
    // The client went away mid-download; nothing to answer any more.
    res.destroy();
  }
}

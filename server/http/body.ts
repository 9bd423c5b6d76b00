import type { IncomingMessage } from 'node:http';
import { PayloadTooLargeError, UnsupportedMediaError } from '../shared/errors.js';

/** The media type of a request, lower-case and without parameters. */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export function requireMediaType(req: IncomingMessage, wanted: string): void {
  const got = mediaType(req);
  if (got !== wanted) throw new UnsupportedMediaError(`expected Content-Type ${wanted}, got ${got || 'none'}`);
}

/** A small text body (an SDP offer, an ICE fragment), refused past `maxBytes` without reading on. */
export function readTextBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.reject(new PayloadTooLargeError(`the body is ${declared} bytes; the limit is ${maxBytes}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > maxBytes) {
        failed = true;
        reject(new PayloadTooLargeError(`the body is over the ${maxBytes}-byte limit`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
    });
  });
}

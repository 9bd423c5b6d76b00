import type { ServerResponse } from 'node:http';
import { CycleStreamError, UnauthorizedError } from '../shared/errors.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Every API error body is `{ error: { code, message } }`; unknown errors never leak internals. */
export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  if (err instanceof CycleStreamError) {
    const extra: Record<string, string> = { ...headers };
    // Every refusal that says when to come back (viewer limit, busy, too many requests) says it here.
    const retryAfterS = (err as { retryAfterS?: unknown }).retryAfterS;
    if (typeof retryAfterS === 'number') extra['retry-after'] = String(Math.max(1, Math.ceil(retryAfterS)));
    if (err instanceof UnauthorizedError) extra['www-authenticate'] = 'Bearer';
    sendJson(res, err.status, { error: err.toJSON() }, extra);
    return;
  }
  sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal server error' } }, headers);
}

import type { ServerResponse } from 'node:http';
import { UnauthorizedError, publicError } from '../shared/errors.js';

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

/**
 * Every API error body is `{ error: { code, message } }`, through the one error policy
 * (server/shared/errors.ts): unknown errors never leak internals, messages never carry server
 * paths, and limits that free up say when to retry.
 */
export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const { status, code, message, retryAfterS } = publicError(err);
  const extra: Record<string, string> = { ...headers };
  if (retryAfterS !== undefined) extra['retry-after'] = String(retryAfterS);
  if (err instanceof UnauthorizedError) extra['www-authenticate'] = 'Bearer';
  sendJson(res, status, { error: { code, message } }, extra);
}

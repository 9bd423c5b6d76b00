/**
 * Who may do what on the streaming routes: bearer tokens (WHIP ingest, viewers, operators) and
 * the origins allowed to embed and play streams (CORS and CSP frame-ancestors).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ForbiddenError, UnauthorizedError } from '../shared/errors.js';

/** The bearer token from `Authorization`, else from `?token=` (iframes and EventSource cannot set headers). */
export function presentedToken(req: IncomingMessage, url: URL, allowQuery: boolean): string | null {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? m[1]! : '';
  }
  return allowQuery ? url.searchParams.get('token') : null;
}

function tokenMatches(token: string, allowed: readonly string[]): boolean {
  const given = Buffer.from(token);
  let ok = false;
  for (const candidate of allowed) {
    const want = Buffer.from(candidate);
    // Compare every configured token, and in constant time, so timing tells nothing about them.
    if (want.length === given.length && timingSafeEqual(want, given)) ok = true;
  }
  return ok;
}

/**
 * Throws UnauthorizedError without a token and ForbiddenError with a wrong one. An empty
 * `allowed` list means the route is open, unless `closedWhenEmpty` (WHIP ingest is off until
 * tokens are configured).
 */
export function requireToken(
  token: string | null,
  allowed: readonly string[],
  what: string,
  opts: { closedWhenEmpty?: boolean } = {},
): void {
  if (allowed.length === 0 && !opts.closedWhenEmpty) return;
  if (token === null || token === '') throw new UnauthorizedError(`${what} needs "Authorization: Bearer <token>"`);
  if (allowed.length === 0) throw new ForbiddenError(`${what} is switched off: no tokens are configured (INGEST_TOKENS)`);
  if (!tokenMatches(token, allowed)) throw new ForbiddenError(`${what}: the token is not valid`);
}

function originOf(req: IncomingMessage): string | undefined {
  const o = req.headers.origin;
  return typeof o === 'string' && o !== 'null' ? o : undefined;
}

/** Whether a browser page on the request's Origin may use the route (no Origin: not a browser page). */
export function originAllowed(req: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  const origin = originOf(req);
  if (!origin || allowedOrigins.includes('*') || allowedOrigins.includes(origin)) return true;
  // The server's own pages (the embed page, the webcam page) are always allowed.
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

export interface CorsPolicy {
  /** '*' or a list of origins. */
  origins: readonly string[];
  methods: string;
  exposeHeaders?: string;
}

/** Sets the CORS response headers for the request's Origin. */
export function applyCors(req: IncomingMessage, res: ServerResponse, policy: CorsPolicy): void {
  const origin = originOf(req);
  if (policy.origins.includes('*')) res.setHeader('access-control-allow-origin', '*');
  else if (origin && originAllowed(req, policy.origins)) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
  }
  res.setHeader('access-control-allow-methods', policy.methods);
  res.setHeader('access-control-allow-headers', 'authorization, content-type, if-match');
  if (policy.exposeHeaders) res.setHeader('access-control-expose-headers', policy.exposeHeaders);
  res.setHeader('access-control-max-age', '600');
}

/** CSP frame-ancestors for the embed page: the configured origins, or any with '*'. */
export function frameAncestors(allowedOrigins: readonly string[]): string {
  return allowedOrigins.includes('*') ? 'frame-ancestors *' : `frame-ancestors 'self' ${allowedOrigins.join(' ')}`.trimEnd();
}

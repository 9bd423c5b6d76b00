/**
 * Who may do what on the streaming routes: bearer tokens (WHIP ingest, viewers, operators) and
 * the origins allowed to embed and play streams (CORS and CSP frame-ancestors).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ForbiddenError, UnauthorizedError } from '../shared/errors.js';
import { isAllowedOrigin } from '../shared/origins.js';

/** The bearer token from `Authorization`, else from `?token=` (iframes and EventSource cannot set headers). */
export function presentedToken(req: IncomingMessage, url: URL, allowQuery: boolean): string | null {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? m[1]! : '';
  }
  return allowQuery ? url.searchParams.get('token') : null;
}

/** sha256 of a token, hex: what is kept of a token that created something, and what tokens are compared by. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Compares digests, never the tokens: both sides are 32 bytes whatever the tokens' lengths, so
 * neither the comparison's time nor an early length check tells anything about a configured token.
 */
export function tokenHashEquals(token: string, wantHashHex: string): boolean {
  const want = Buffer.from(wantHashHex, 'hex');
  const given = createHash('sha256').update(token).digest();
  return want.length === given.length && timingSafeEqual(want, given);
}

export function tokenMatches(token: string, allowed: readonly string[]): boolean {
  let ok = false;
  // Every configured token is compared, so the time does not tell which one (if any) matched.
  for (const candidate of allowed) if (tokenHashEquals(token, hashToken(candidate))) ok = true;
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
  opts: { closedWhenEmpty?: boolean; configKey?: string } = {},
): void {
  if (allowed.length === 0 && !opts.closedWhenEmpty) return;
  if (token === null || token === '') throw new UnauthorizedError(`${what} needs "Authorization: Bearer <token>"`);
  if (allowed.length === 0) throw new ForbiddenError(`${what} is switched off: no tokens are configured (${opts.configKey ?? 'INGEST_TOKENS'})`);
  if (!tokenMatches(token, allowed)) throw new ForbiddenError(`${what}: the token is not valid`);
}

function originOf(req: IncomingMessage): string | undefined {
  const o = req.headers.origin;
  return typeof o === 'string' && o !== 'null' ? o : undefined;
}

/**
 * Whether a browser page on the request's Origin may use the route (no Origin: not a browser
 * page). The server's own pages are always allowed: the Origin names the Host the request went
 * to, or the origin of PUBLIC_URL.
 */
export function originAllowed(req: IncomingMessage, allowedOrigins: readonly string[], publicUrl = ''): boolean {
  const origin = originOf(req);
  return !origin || isAllowedOrigin(origin, req.headers.host, allowedOrigins, publicUrl);
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

/**
 * Streams over standard HTTP:
 *   POST   /whip/:modelId               WHIP ingest (RFC 9725): SDP offer in, 201 + answer + Location
 *   PATCH  /whip/:modelId/:streamId     trickled ICE candidates (application/trickle-ice-sdpfrag)
 *   DELETE /whip/:modelId/:streamId     ends the stream (PATCH and DELETE: the creating token, or an operator's)
 *   POST   /whep/:streamId              WHEP playback: SDP offer in, 201 + answer + Location
 *   DELETE /whep/:streamId/:viewerId    ends the viewer
 *   GET    /api/streams                 every live stream with viewer counts (operator; closed while
 *                                       other tokens are configured and OPERATOR_TOKENS is not)
 *   GET    /api/streams/:id             one stream
 *   GET    /api/streams/:id/events      server-sent events: `state`, then `offline`
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ForbiddenError, MethodNotAllowedError, NotFoundError } from '../shared/errors.js';
import { applyCors, originAllowed, presentedToken, requireToken, type CorsPolicy } from './access.js';
import { sendError, sendJson } from './respond.js';
import { streamEvents } from './stream-events.js';
import { liveStream, summarize, type StreamRoutesDeps } from './stream-host.js';
import { whepPlay, whepResource, whipPublish, whipResource } from './whip-whep-routes.js';

const ID = '([A-Za-z0-9_-]{1,128})';
const WHIP_ROUTE = new RegExp(`^/whip/${ID}$`);
const WHIP_RESOURCE = new RegExp(`^/whip/${ID}/${ID}$`);
const WHEP_ROUTE = new RegExp(`^/whep/${ID}$`);
const WHEP_RESOURCE = new RegExp(`^/whep/${ID}/${ID}$`);
const STREAM_ROUTE = new RegExp(`^/api/streams/${ID}$`);
const STREAM_EVENTS = new RegExp(`^/api/streams/${ID}/events$`);

/** Handles the streaming routes and returns true, or returns false so the caller can pass the request on. */
export async function handleStreamRoutes(req: IncomingMessage, res: ServerResponse, deps: StreamRoutesDeps): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  const isWhip = path.startsWith('/whip/');
  const isWhep = path.startsWith('/whep/');
  const isStreams = path === '/api/streams' || path.startsWith('/api/streams/');
  if (!isWhip && !isWhep && !isStreams) return false;

  const { config } = deps;
  const playOrigins = isWhip ? config.embedOrigins : await playbackOrigins(req, deps);
  // WHIP is guarded by its token, so any page may publish; playback follows the embed origins.
  const cors: CorsPolicy = isWhip
    ? { origins: ['*'], methods: 'POST, PATCH, DELETE, OPTIONS', exposeHeaders: 'location, link, etag, x-stream-id' }
    : { origins: playOrigins, methods: 'GET, POST, DELETE, OPTIONS', exposeHeaders: 'location, link' };
  applyCors(req, res, cors);

  try {
    if (req.method === 'OPTIONS') {
      if (WHIP_ROUTE.test(path) || WHEP_ROUTE.test(path)) res.setHeader('accept-post', 'application/sdp');
      res.writeHead(204).end();
      return true;
    }
    if (!isWhip && !originAllowed(req, playOrigins, config.publicUrl)) {
      throw new ForbiddenError(`origin ${req.headers.origin} may not play streams from this server (EMBED_ORIGINS)`);
    }
    let m: RegExpExecArray | null;
    if (await redirectToOwner(req, res, url, deps)) return true;
    if ((m = WHIP_ROUTE.exec(path))) return await whipPublish(req, res, url, deps, m[1]!).finally(() => void deps.directory?.refresh());
    if ((m = WHIP_RESOURCE.exec(path))) return await whipResource(req, res, url, deps, m[1]!, m[2]!).finally(() => void deps.directory?.refresh());
    if ((m = WHEP_ROUTE.exec(path))) return await whepPlay(req, res, url, deps, m[1]!);
    if ((m = WHEP_RESOURCE.exec(path))) return await whepResource(req, res, url, deps, m[1]!, m[2]!);
    if (path === '/api/streams') {
      if (req.method !== 'GET') throw new MethodNotAllowedError(`${req.method} is not allowed on ${path}`);
      // Open on a server with no tokens at all; once any token guards anything, the list of every
      // stream (with its ids) is for operators only.
      const anyTokens = config.ingestTokens.length + config.viewerTokens.length + config.operatorTokens.length > 0;
      requireToken(presentedToken(req, url, true), config.operatorTokens, 'listing streams', { closedWhenEmpty: anyTokens, configKey: 'OPERATOR_TOKENS' });
      const others = deps.directory ? (await deps.directory.others()).map((e) => e.summary) : [];
      sendJson(res, 200, { streams: [...deps.streams.all().map((s) => summarize(s, config)), ...others] });
      return true;
    }
    if ((m = STREAM_ROUTE.exec(path))) {
      if (req.method !== 'GET') throw new MethodNotAllowedError(`${req.method} is not allowed on ${path}`);
      requireToken(presentedToken(req, url, true), config.viewerTokens, 'this stream');
      sendJson(res, 200, summarize(liveStream(deps, m[1]!), config));
      return true;
    }
    if ((m = STREAM_EVENTS.exec(path))) {
      if (req.method !== 'GET') throw new MethodNotAllowedError(`${req.method} is not allowed on ${path}`);
      requireToken(presentedToken(req, url, true), config.viewerTokens, 'this stream');
      streamEvents(req, res, liveStream(deps, m[1]!), deps.sse);
      return true;
    }
    sendError(res, new NotFoundError(`no route ${req.method} ${path}`));
  } catch (err) {
    if (!res.headersSent) sendError(res, err);
    else res.end();
  }
  return true;
}

/**
 * The origins whose pages may play: EMBED_ORIGINS, and in a cluster the request's origin when
 * it is another node's, whose embed page was sent here by a 307 (redirectToOwner on that node).
 */
async function playbackOrigins(req: IncomingMessage, deps: StreamRoutesDeps): Promise<readonly string[]> {
  const { embedOrigins } = deps.config;
  const origin = req.headers.origin;
  if (!deps.directory || typeof origin !== 'string' || embedOrigins.includes('*') || embedOrigins.includes(origin)) return embedOrigins;
  return (await deps.directory.isPeerOrigin(origin)) ? [...embedOrigins, origin] : embedOrigins;
}

/**
 * Cluster mode: a WHEP offer, stream status or event stream for a stream another node holds is
 * sent there with 307 (the WHEP draft allows it; method and body are kept). True when it was.
 */
async function redirectToOwner(req: IncomingMessage, res: ServerResponse, url: URL, deps: StreamRoutesDeps): Promise<boolean> {
  if (!deps.directory) return false;
  const m = (req.method === 'POST' && WHEP_ROUTE.exec(url.pathname)) || (req.method === 'GET' && (STREAM_ROUTE.exec(url.pathname) ?? STREAM_EVENTS.exec(url.pathname)));
  if (!m || deps.streams.get(m[1]!)) return false;
  const owner = await deps.directory.remote(m[1]!);
  if (!owner) return false;
  res.writeHead(307, { location: `${owner.publicUrl}${url.pathname}${url.search}`, 'cache-control': 'no-store' }).end();
  return true;
}

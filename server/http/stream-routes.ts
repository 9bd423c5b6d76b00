/**
 * Streams over standard HTTP:
 *   POST   /whip/:modelId               WHIP ingest (RFC 9725): SDP offer in, 201 + answer + Location
 *   PATCH  /whip/:modelId/:streamId     trickled ICE candidates (application/trickle-ice-sdpfrag)
 *   DELETE /whip/:modelId/:streamId     ends the stream
 *   POST   /whep/:streamId              WHEP playback: SDP offer in, 201 + answer + Location
 *   DELETE /whep/:streamId/:viewerId    ends the viewer
 *   GET    /api/streams                 every live stream with viewer counts (operator)
 *   GET    /api/streams/:id             one stream
 *   GET    /api/streams/:id/events      server-sent events: `state`, then `offline`
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import type { LiveSession } from '../session/index.js';
import type { SessionInfo, StreamStateEvent, StreamSummary } from '../signaling/index.js';
import { BadRequestError, BusyError, ForbiddenError, MethodNotAllowedError, StreamNotFoundError } from '../shared/errors.js';
import { applyCors, originAllowed, presentedToken, requireToken, type CorsPolicy } from './access.js';
import { readTextBody, requireMediaType } from './body.js';
import { sendError, sendJson } from './respond.js';

export interface StreamHost {
  get(id: string): LiveSession | undefined;
  all(): LiveSession[];
  createWhip(req: { modelId: string; offerSdp: string }): Promise<{ session: LiveSession; info: SessionInfo }>;
}

export type StreamRoutesConfig = Pick<
  Config,
  'ingestTokens' | 'viewerTokens' | 'operatorTokens' | 'embedOrigins' | 'iceServers' | 'maxViewersPerStream'
>;

export interface StreamRoutesDeps {
  config: StreamRoutesConfig;
  streams: StreamHost;
}

const MAX_SDP_BYTES = 128 * 1024;
const BUSY_RETRY_AFTER_S = 10;
const SSE_HEARTBEAT_MS = 15_000;

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
  // WHIP is guarded by its token, so any page may publish; playback follows the embed origins.
  const cors: CorsPolicy = isWhip
    ? { origins: ['*'], methods: 'POST, PATCH, DELETE, OPTIONS', exposeHeaders: 'location, link, etag, x-stream-id' }
    : { origins: config.embedOrigins, methods: 'GET, POST, DELETE, OPTIONS', exposeHeaders: 'location, link' };
  applyCors(req, res, cors);

  try {
    if (req.method === 'OPTIONS') {
      if (WHIP_ROUTE.test(path) || WHEP_ROUTE.test(path)) res.setHeader('accept-post', 'application/sdp');
      res.writeHead(204).end();
      return true;
    }
    if (!isWhip && !originAllowed(req, config.embedOrigins)) {
      throw new ForbiddenError(`origin ${req.headers.origin} may not play streams from this server (EMBED_ORIGINS)`);
    }
    let m: RegExpExecArray | null;
    if ((m = WHIP_ROUTE.exec(path))) return await whipPublish(req, res, url, deps, m[1]!);
    if ((m = WHIP_RESOURCE.exec(path))) return await whipResource(req, res, url, deps, m[1]!, m[2]!);
    if ((m = WHEP_ROUTE.exec(path))) return await whepPlay(req, res, url, deps, m[1]!);
    if ((m = WHEP_RESOURCE.exec(path))) return await whepResource(req, res, url, deps, m[1]!, m[2]!);
    if (path === '/api/streams') {
      if (req.method !== 'GET') throw new MethodNotAllowedError(`${req.method} is not allowed on ${path}`);
      requireToken(presentedToken(req, url, true), config.operatorTokens, 'listing streams');
      sendJson(res, 200, { streams: deps.streams.all().map((s) => summarize(s, config)) });
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
      streamEvents(req, res, liveStream(deps, m[1]!));
      return true;
    }
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` } });
  } catch (err) {
    if (!res.headersSent) {
      sendError(res, err, err instanceof BusyError ? { 'retry-after': String(BUSY_RETRY_AFTER_S) } : {});
    } else res.end();
  }
  return true;
}

function liveStream(deps: StreamRoutesDeps, id: string): LiveSession {
  const s = deps.streams.get(id);
  if (!s || s.closed) throw new StreamNotFoundError(`no live stream ${id}: it never existed or it has ended`);
  return s;
}

async function readOffer(req: IncomingMessage): Promise<string> {
  requireMediaType(req, 'application/sdp');
  const sdp = await readTextBody(req, MAX_SDP_BYTES);
  if (!sdp.trim()) throw new BadRequestError('the request body must be an SDP offer');
  return sdp;
}

/** Absolute base URL as the client reached us (Host header; X-Forwarded-Proto behind a TLS proxy). */
function baseUrl(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-proto'];
  const proto = typeof forwarded === 'string' && /^https?$/.test(forwarded) ? forwarded : 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}`;
}

function streamUrls(id: string): StreamSummary['urls'] {
  return {
    whep: `/whep/${id}`,
    embed: `/embed/${id}`,
    events: `/api/streams/${id}/events`,
    playerScript: '/cyclestream-player.js',
  };
}

export function summarize(s: LiveSession, config: Pick<Config, 'maxViewersPerStream'>): StreamSummary {
  const c = s.counters();
  return {
    id: s.id,
    source: s.source,
    modelId: s.modelId,
    codec: s.outputCodec,
    viewers: c.viewers,
    maxViewers: config.maxViewersPerStream,
    startedAt: s.startedAt.toISOString(),
    width: c.width,
    height: c.height,
    fpsOut: s.stats().fpsOut,
    modelRuns: c.modelRuns,
    framesEncoded: c.framesEncoded,
    urls: streamUrls(s.id),
  };
}

function iceServerLinks(config: StreamRoutesConfig): string[] {
  return config.iceServers.flatMap((server) => {
    const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
    return urls.map((u) => {
      const creds =
        server.username !== undefined
          ? `; username="${server.username}"; credential="${server.credential ?? ''}"; credential-type="password"`
          : '';
      return `<${u}>; rel="ice-server"${creds}`;
    });
  });
}

async function whipPublish(req: IncomingMessage, res: ServerResponse, url: URL, deps: StreamRoutesDeps, modelId: string): Promise<true> {
  if (req.method !== 'POST') throw new MethodNotAllowedError(`${req.method} is not allowed on ${url.pathname}; POST an SDP offer`);
  requireToken(presentedToken(req, url, false), deps.config.ingestTokens, 'WHIP ingest', { closedWhenEmpty: true });
  const offerSdp = await readOffer(req);
  const { session, info } = await deps.streams.createWhip({ modelId, offerSdp });
  const base = baseUrl(req);
  const urls = streamUrls(session.id);
  const links = [
    `<${base}/api/streams/${session.id}>; rel="describedby"; type="application/json"`,
    `<${base}${urls.whep}>; rel="urn:cyclestream:whep"`,
    `<${base}${urls.embed}>; rel="urn:cyclestream:embed"; type="text/html"`,
    ...iceServerLinks(deps.config),
  ];
  res.writeHead(201, {
    'content-type': 'application/sdp',
    location: `/whip/${modelId}/${session.id}`,
    'x-stream-id': session.id,
    etag: `"${session.id}"`,
    link: links.join(', '),
    'cache-control': 'no-store',
  });
  res.end(info.answerSdp);
  return true;
}

async function whipResource(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  deps: StreamRoutesDeps,
  modelId: string,
  streamId: string,
): Promise<true> {
  requireToken(presentedToken(req, url, false), deps.config.ingestTokens, 'WHIP ingest', { closedWhenEmpty: true });
  const session = deps.streams.get(streamId);
  // Only a WHIP publisher's own resource: a webcam session is not ended through WHIP.
  if (!session || session.closed || session.source !== 'whip') throw new StreamNotFoundError(`no WHIP session ${modelId}/${streamId}`);
  if (req.method === 'DELETE') {
    await session.close('stopped');
    sendJson(res, 200, { ok: true });
    return true;
  }
  if (req.method === 'PATCH') {
    requireMediaType(req, 'application/trickle-ice-sdpfrag');
    const frag = await readTextBody(req, MAX_SDP_BYTES);
    if (/^a=ice-ufrag:/m.test(frag) && /^a=ice-restart/m.test(frag)) throw new BadRequestError('ICE restarts are not supported');
    const mid = /^a=mid:(\S+)/m.exec(frag)?.[1] ?? null;
    for (const line of frag.split(/\r?\n/)) {
      if (line.startsWith('a=candidate:')) await session.addIceCandidate({ candidate: line.slice(2), sdpMid: mid, sdpMLineIndex: null });
    }
    res.writeHead(204).end();
    return true;
  }
  throw new MethodNotAllowedError(`${req.method} is not allowed on a WHIP session; DELETE ends it`);
}

async function whepPlay(req: IncomingMessage, res: ServerResponse, url: URL, deps: StreamRoutesDeps, streamId: string): Promise<true> {
  if (req.method !== 'POST') throw new MethodNotAllowedError(`${req.method} is not allowed on ${url.pathname}; POST an SDP offer`);
  requireToken(presentedToken(req, url, true), deps.config.viewerTokens, 'watching this stream');
  const session = liveStream(deps, streamId);
  const offerSdp = await readOffer(req);
  const { viewerId, answerSdp } = await session.addViewer(offerSdp);
  res.writeHead(201, {
    'content-type': 'application/sdp',
    location: `/whep/${streamId}/${viewerId}`,
    etag: `"${viewerId}"`,
    link: `<${baseUrl(req)}/api/streams/${streamId}/events>; rel="urn:cyclestream:events"; type="text/event-stream"`,
    'cache-control': 'no-store',
  });
  res.end(answerSdp);
  return true;
}

async function whepResource(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  deps: StreamRoutesDeps,
  streamId: string,
  viewerId: string,
): Promise<true> {
  if (req.method === 'PATCH') {
    // Our answers carry every candidate; WHEP lets a server without trickle ICE say so with 405.
    throw new MethodNotAllowedError('trickle ICE is not supported: send the offer after ICE gathering');
  }
  if (req.method !== 'DELETE') throw new MethodNotAllowedError(`${req.method} is not allowed on a WHEP session; DELETE ends it`);
  requireToken(presentedToken(req, url, true), deps.config.viewerTokens, 'watching this stream');
  const session = deps.streams.get(streamId);
  if (!session || !(await session.removeViewer(viewerId))) throw new StreamNotFoundError(`no viewer ${viewerId} on stream ${streamId}`);
  sendJson(res, 200, { ok: true });
  return true;
}

function streamEvents(req: IncomingMessage, res: ServerResponse, session: LiveSession): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const send = (event: string, data: StreamStateEvent) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  send('state', { state: 'live', viewers: session.counters().viewers });
  // Proxies drop connections that stay silent; a comment line keeps this one open.
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
  heartbeat.unref();
  const stop = () => {
    clearInterval(heartbeat);
    unsubscribe();
  };
  const unsubscribe = session.onStreamEvent((e) => {
    if (e.state === 'offline') {
      send('offline', e);
      stop();
      res.end();
    } else send('state', e);
  });
  req.on('close', stop);
}

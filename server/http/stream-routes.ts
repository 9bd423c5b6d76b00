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
import type { Config } from '../config.js';
import type { LiveSession } from '../session/index.js';
import type { SessionInfo, StreamSummary } from '../contract/index.js';
import type { ClientInfo } from '../signaling/index.js';
import { BadRequestError, ForbiddenError, MethodNotAllowedError, NotFoundError, StreamNotFoundError, UnauthorizedError } from '../shared/errors.js';
import { clientKey } from '../shared/limits.js';
import { checkSdpLimits, type SdpLimits } from '../webrtc/index.js';
import { applyCors, hashToken, originAllowed, presentedToken, requireToken, tokenHashEquals, tokenMatches, type CorsPolicy } from './access.js';
import { readTextBody, requireMediaType } from './body.js';
import { sendError, sendJson } from './respond.js';
import { streamEvents, type SseLimits } from './stream-events.js';

export interface StreamHost {
  get(id: string): LiveSession | undefined;
  all(): LiveSession[];
  createWhip(req: { modelId: string; offerSdp: string; ownerTokenHash?: string }, client: ClientInfo): Promise<{ session: LiveSession; info: SessionInfo }>;
  readonly sdpLimits: SdpLimits;
}

export type StreamRoutesConfig = Pick<
  Config,
  'ingestTokens' | 'viewerTokens' | 'operatorTokens' | 'embedOrigins' | 'iceServers' | 'maxViewersPerStream' | 'publicUrl'
>;

/** Cluster mode: streams held by other nodes (server/cluster/stream-registry.ts). */
export interface StreamDirectory {
  remote(id: string): Promise<{ publicUrl: string; summary: StreamSummary } | null>;
  others(): Promise<{ summary: StreamSummary }[]>;
  /** A stream started or ended here: publish it now rather than at the next refresh. */
  refresh(): Promise<void>;
}

export interface StreamRoutesDeps {
  config: StreamRoutesConfig;
  streams: StreamHost;
  sse: SseLimits;
  directory?: StreamDirectory;
}

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
    if (!isWhip && !originAllowed(req, config.embedOrigins, config.publicUrl)) {
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

function liveStream(deps: StreamRoutesDeps, id: string): LiveSession {
  const s = deps.streams.get(id);
  if (!s || s.closed) throw new StreamNotFoundError(`no live stream ${id}: it never existed or it has ended`);
  return s;
}

/** The body is read no further than MAX_SDP_BYTES; the other SDP caps are checked before parsing. */
async function readOffer(req: IncomingMessage, limits: SdpLimits): Promise<string> {
  requireMediaType(req, 'application/sdp');
  const sdp = await readTextBody(req, limits.maxBytes);
  if (!sdp.trim()) throw new BadRequestError('the request body must be an SDP offer');
  return sdp;
}

/**
 * Prefix of absolute links: PUBLIC_URL, or nothing (links relative to the request URL, which
 * RFC 8288 allows). Never the Host header, which a client sets to anything it likes.
 */
function baseUrl(config: StreamRoutesConfig): string {
  return config.publicUrl;
}

/** PATCH and DELETE of a WHIP stream: the token that created it, or an operator token. */
function requireStreamOwner(req: IncomingMessage, url: URL, session: LiveSession, config: StreamRoutesConfig): void {
  const token = presentedToken(req, url, false);
  if (token === null || token === '') throw new UnauthorizedError('changing a WHIP stream needs "Authorization: Bearer <token>"');
  const owner = session.ownerTokenHash !== undefined && tokenHashEquals(token, session.ownerTokenHash);
  if (!owner && !tokenMatches(token, config.operatorTokens)) {
    throw new ForbiddenError('only the token that created this stream, or an operator token, may change or end it');
  }
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
  const token = presentedToken(req, url, false);
  requireToken(token, deps.config.ingestTokens, 'WHIP ingest', { closedWhenEmpty: true });
  const offerSdp = await readOffer(req, deps.streams.sdpLimits);
  const { session, info } = await deps.streams.createWhip(
    { modelId, offerSdp, ownerTokenHash: hashToken(token!) },
    { ip: clientKey(req.socket.remoteAddress) },
  );
  const base = baseUrl(deps.config);
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
  session.answerSent();
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
  const session = deps.streams.get(streamId);
  // Only a WHIP publisher's own resource: a webcam session is not ended through WHIP.
  if (!session || session.closed || session.source !== 'whip') throw new StreamNotFoundError(`no WHIP session ${modelId}/${streamId}`);
  requireStreamOwner(req, url, session, deps.config);
  if (req.method === 'DELETE') {
    await session.close('stopped');
    sendJson(res, 200, { ok: true });
    return true;
  }
  if (req.method === 'PATCH') {
    requireMediaType(req, 'application/trickle-ice-sdpfrag');
    const frag = await readTextBody(req, deps.streams.sdpLimits.maxBytes);
    // The session's candidate cap is enforced per candidate below; this bounds the fragment itself.
    checkSdpLimits(frag, deps.streams.sdpLimits, 'ICE fragment');
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
  const offerSdp = await readOffer(req, deps.streams.sdpLimits);
  const { viewerId, answerSdp } = await session.addViewer(offerSdp);
  res.writeHead(201, {
    'content-type': 'application/sdp',
    location: `/whep/${streamId}/${viewerId}`,
    etag: `"${viewerId}"`,
    link: `<${baseUrl(deps.config)}/api/streams/${streamId}/events>; rel="urn:cyclestream:events"; type="text/event-stream"`,
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

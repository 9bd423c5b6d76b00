/**
 * WHIP ingest and WHEP playback: an SDP offer in, 201 with the answer and the new resource's
 * Location out; PATCH (trickled ICE, WHIP only) and DELETE on that resource.
 * Dispatched from stream-routes.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveSession } from '../session/index.js';
import { BadRequestError, ForbiddenError, MethodNotAllowedError, StreamNotFoundError, UnauthorizedError } from '../shared/errors.js';
import { clientKey } from '../shared/limits.js';
import { checkSdpLimits, type SdpLimits } from '../webrtc/index.js';
import { hashToken, presentedToken, requireToken, tokenHashEquals, tokenMatches } from './access.js';
import { readTextBody, requireMediaType } from './body.js';
import { sendJson } from './respond.js';
import { baseUrl, liveStream, streamUrls, type StreamRoutesConfig, type StreamRoutesDeps } from './stream-host.js';

/** The body is read no further than MAX_SDP_BYTES; the other SDP caps are checked before parsing. */
async function readOffer(req: IncomingMessage, limits: SdpLimits): Promise<string> {
  requireMediaType(req, 'application/sdp');
  const sdp = await readTextBody(req, limits.maxBytes);
  if (!sdp.trim()) throw new BadRequestError('the request body must be an SDP offer');
  return sdp;
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

export async function whipPublish(req: IncomingMessage, res: ServerResponse, url: URL, deps: StreamRoutesDeps, modelId: string): Promise<true> {
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

export async function whipResource(
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

export async function whepPlay(req: IncomingMessage, res: ServerResponse, url: URL, deps: StreamRoutesDeps, streamId: string): Promise<true> {
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

export async function whepResource(
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

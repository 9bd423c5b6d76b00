/**
 * What the stream routes work with: the live streams of this node (and, in a cluster, the
 * directory of other nodes' streams), the config slice they read, and the public view of a
 * stream. Shared by the status routes (stream-routes.ts) and WHIP/WHEP (whip-whep-routes.ts).
 */
import type { Config } from '../config.js';
import type { LiveSession } from '../session/index.js';
import type { SessionInfo, StreamSummary } from '../contract/index.js';
import type { ClientInfo } from '../signaling/index.js';
import { StreamNotFoundError } from '../shared/errors.js';
import type { SdpLimits } from '../webrtc/index.js';
import type { SseLimits } from './stream-events.js';

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
  /** Whether the origin is another live node's: its pages play streams this node holds, after a 307. */
  isPeerOrigin(origin: string): Promise<boolean>;
}

export interface StreamRoutesDeps {
  config: StreamRoutesConfig;
  streams: StreamHost;
  sse: SseLimits;
  directory?: StreamDirectory;
}

export function liveStream(deps: StreamRoutesDeps, id: string): LiveSession {
  const s = deps.streams.get(id);
  if (!s || s.closed) throw new StreamNotFoundError(`no live stream ${id}: it never existed or it has ended`);
  return s;
}

/**
 * Prefix of absolute links: PUBLIC_URL, or nothing (links relative to the request URL, which
 * RFC 8288 allows). Never the Host header, which a client sets to anything it likes.
 */
export function baseUrl(config: StreamRoutesConfig): string {
  return config.publicUrl;
}

export function streamUrls(id: string): StreamSummary['urls'] {
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

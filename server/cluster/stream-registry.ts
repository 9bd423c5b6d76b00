/**
 * Which node holds which live stream, in Redis: one key per stream, holding the owner's node id,
 * PUBLIC_URL and the stream's summary, with a TTL (`streamTtlMs`) that the owner refreshes every
 * third of it. A node that dies stops refreshing, and its streams leave within the TTL. WHEP
 * and the stream routes ask here for streams this node does not hold (http/stream-routes.ts).
 *
 * Each node also registers its own PUBLIC_URL under a node key with the same TTL: a player on
 * one node's page that is redirected to another node calls it cross-origin, and the owner
 * allows the origins of the live nodes as it allows its own (`isPeerOrigin`).
 */
import { Redis } from 'ioredis';
import type { StageLogger } from '../inference/index.js';
import type { StreamSummary } from '../contract/index.js';

const PREFIX = 'cyclestream:stream:';
const NODE_PREFIX = 'cyclestream:node:';
/** An origin not among the known peers rereads the node keys at most this often (a browser sets Origin to anything). */
const PEER_RELOAD_MS = 1000;

export interface RemoteStream {
  nodeId: string;
  publicUrl: string;
  summary: StreamSummary;
}

export interface StreamRegistryOptions {
  redisUrl: string;
  nodeId: string;
  /** This node's PUBLIC_URL, where other nodes send WHEP players. */
  publicUrl: string;
  streamTtlMs: number;
  /** The streams this node holds now, summarized. */
  local(): StreamSummary[];
  log: StageLogger;
}

export class StreamRegistry {
  readonly #opts: StreamRegistryOptions;
  readonly #redis: Redis;
  readonly #timer: NodeJS.Timeout;
  /** Ids this node registered at its last refresh, so ended streams are removed at once. */
  #mine = new Set<string>();
  /** Origins of the nodes registered at the last read of the node keys (this one's included). */
  #peerOrigins = new Set<string>();
  #peersReadAt = 0;
  #closing: Promise<void> | null = null;

  constructor(opts: StreamRegistryOptions) {
    this.#opts = opts;
    this.#redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    this.#redis.on('error', () => undefined);
    // Registered as soon as Redis answers (and again after a reconnect), not a refresh period later.
    this.#redis.on('ready', () => void this.refresh());
    this.#timer = setInterval(() => void this.refresh(), Math.max(100, Math.floor(opts.streamTtlMs / 3)));
    this.#timer.unref();
  }

  /** Writes this node's streams with a fresh TTL and removes those that ended. Never throws. */
  async refresh(): Promise<void> {
    if (this.#closing || this.#redis.status !== 'ready') return;
    const { nodeId, publicUrl, streamTtlMs } = this.#opts;
    const now = this.#opts.local();
    const ids = new Set(now.map((s) => s.id));
    const tx = this.#redis.multi();
    for (const summary of now) tx.set(PREFIX + summary.id, JSON.stringify({ nodeId, publicUrl, summary } satisfies RemoteStream), 'PX', streamTtlMs);
    for (const id of this.#mine) if (!ids.has(id)) tx.del(PREFIX + id);
    tx.set(NODE_PREFIX + nodeId, publicUrl, 'PX', streamTtlMs);
    try {
      await tx.exec();
      this.#mine = ids;
      await this.#readPeers();
    } catch (err) {
      this.#opts.log.warn({ err: (err as Error).message }, 'stream registry refresh failed; trying again');
    }
  }

  /**
   * Whether `origin` is the PUBLIC_URL origin of a live node of this cluster: the page of one
   * node may play streams from another. False when Redis cannot say.
   */
  async isPeerOrigin(origin: string): Promise<boolean> {
    if (this.#peerOrigins.has(origin)) return true;
    if (this.#closing || Date.now() - this.#peersReadAt < PEER_RELOAD_MS) return false;
    try {
      await this.#readPeers();
    } catch {
      return false;
    }
    return this.#peerOrigins.has(origin);
  }

  async #readPeers(): Promise<void> {
    this.#peersReadAt = Date.now();
    const urls = await this.#values(NODE_PREFIX);
    const origins = new Set<string>();
    for (const url of urls) {
      try {
        origins.add(new URL(url).origin);
      } catch {
        // A node with an unusable PUBLIC_URL is not a peer anyone can reach.
      }
    }
    this.#peerOrigins = origins;
  }

  /** The values of every key under `prefix`. */
  async #values(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.#redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    return (await this.#redis.mget(...keys)).filter((v): v is string => v !== null);
  }

  /** The stream's entry if another node holds it; null if none does (or Redis cannot say). */
  async remote(id: string): Promise<RemoteStream | null> {
    try {
      const raw = await this.#redis.get(PREFIX + id);
      const entry = raw ? (JSON.parse(raw) as RemoteStream) : null;
      return entry && entry.nodeId !== this.#opts.nodeId ? entry : null;
    } catch {
      return null;
    }
  }

  /** Every stream held by other nodes (none if Redis cannot say). */
  async others(): Promise<RemoteStream[]> {
    try {
      return (await this.#values(PREFIX))
        .map((v) => JSON.parse(v) as RemoteStream)
        .filter((e) => e.nodeId !== this.#opts.nodeId);
    } catch {
      return [];
    }
  }

  /** Stops refreshing and removes this node's entries (best effort: else they expire). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      if (this.#redis.status === 'ready') {
        await this.#redis.del(NODE_PREFIX + this.#opts.nodeId, ...[...this.#mine].map((id) => PREFIX + id)).catch(() => undefined);
      }
      this.#redis.disconnect();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

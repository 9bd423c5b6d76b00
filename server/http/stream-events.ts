/**
 * GET /api/streams/:id/events: server-sent events, `state` on connect and on every viewer-count
 * change, then `offline` when the stream ends. Each connection is held open for as long as the
 * client likes, so they are capped per stream and per client address.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import type { LiveSession } from '../session/index.js';
import type { StreamStateEvent } from '../contract/index.js';
import { BusyError, RateLimitError } from '../shared/errors.js';
import { KeyedCounter, clientKey } from '../shared/limits.js';

const SSE_HEARTBEAT_MS = 15_000;
/** A listener slot frees up when someone closes a tab; a few seconds is a fair wait. */
const SSE_RETRY_AFTER_S = 5;

export class SseLimits {
  readonly perStream: KeyedCounter;
  readonly perIp: KeyedCounter;

  constructor(config: Pick<Config, 'maxSseConnectionsPerStream' | 'maxSseConnectionsPerIp'>) {
    this.perStream = new KeyedCounter(config.maxSseConnectionsPerStream);
    this.perIp = new KeyedCounter(config.maxSseConnectionsPerIp);
  }

  /** Both slots, or a RateLimitError (this address) / BusyError (this stream). */
  acquire(streamId: string, ip: string): () => void {
    const releaseIp = this.perIp.tryAcquire(ip);
    if (!releaseIp) {
      throw new RateLimitError(`${this.perIp.max} event stream(s) per address is the limit (MAX_SSE_CONNECTIONS_PER_IP)`, SSE_RETRY_AFTER_S);
    }
    const releaseStream = this.perStream.tryAcquire(streamId);
    if (!releaseStream) {
      releaseIp();
      throw new BusyError(`this stream has ${this.perStream.max} event listeners, the limit (MAX_SSE_CONNECTIONS_PER_STREAM)`, SSE_RETRY_AFTER_S);
    }
    return () => {
      releaseStream();
      releaseIp();
    };
  }
}

/** Throws before writing anything when a cap is reached; the caller turns that into 429/503. */
export function streamEvents(req: IncomingMessage, res: ServerResponse, session: LiveSession, limits: SseLimits): void {
  const release = limits.acquire(session.id, clientKey(req.socket.remoteAddress));
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
    release();
  };
  const unsubscribe = session.onStreamEvent((e) => {
    if (e.state === 'offline') {
      send('offline', e);
      stop();
      res.end();
    } else send('state', e);
  });
  res.on('close', stop);
}

/**
 * Who may open a socket.io connection, decided at the engine.io handshake, before a WebSocket
 * upgrade or a polling session costs anything: browser pages of the server's own origin or of
 * APP_ORIGINS only (WebSockets are not bound by CORS, so the Origin header is checked here), and
 * at most MAX_SOCKETS_PER_IP connections per address.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ForbiddenError, RateLimitError, publicError } from '../shared/errors.js';
import { KeyedCounter, clientKey, type Release } from '../shared/limits.js';
import { isAllowedOrigin } from '../shared/origins.js';
import type { SignalingServer } from './handler.js';

export interface ConnectionGateOptions {
  maxSocketsPerIp: number;
  /** Origins besides the server's own. */
  appOrigins: readonly string[];
  publicUrl: string;
  logger: Logger;
}

const RETRY_AFTER_S = 10;

/** Refuses the handshake with the shared error policy's status, body and Retry-After. */
function refuse(req: IncomingMessage, res: unknown, err: Error): void {
  const { status, code, message, retryAfterS } = publicError(err);
  const body = JSON.stringify({ error: { code, message } });
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'x-content-type-options': 'nosniff',
    ...(retryAfterS !== undefined ? { 'retry-after': String(retryAfterS) } : {}),
  };
  if (res instanceof ServerResponse) {
    res.writeHead(status, headers).end(body);
    return;
  }
  // A WebSocket upgrade: engine.io's stand-in response cannot carry a status, so write one on the socket.
  const socket = req.socket as Duplex;
  socket.on('error', () => {});
  const head = Object.entries({ ...headers, connection: 'close' }).map(([k, v]) => `${k}: ${v}`);
  socket.end(`HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Too Many Requests'}\r\n${head.join('\r\n')}\r\n\r\n${body}`);
}

export function gateConnections(io: SignalingServer, opts: ConnectionGateOptions): void {
  const perIp = new KeyedCounter(opts.maxSocketsPerIp);
  // A handshake's slot, held from the check until its connection closes (or the handshake fails).
  const reserved = new WeakMap<IncomingMessage, { release: Release; onSocketClose: () => void }>();

  io.engine.use((req: IncomingMessage, res: unknown, next: (err?: Error) => void) => {
    // Only handshakes; later requests of an established connection carry its sid.
    if (new URL(req.url ?? '/', 'http://localhost').searchParams.has('sid')) return next();
    const ip = clientKey(req.socket.remoteAddress);
    const origin = req.headers.origin;
    if (origin !== undefined && !isAllowedOrigin(origin, req.headers.host, opts.appOrigins, opts.publicUrl)) {
      opts.logger.warn({ ip, origin }, 'socket.io connection refused: origin not allowed');
      return refuse(req, res, new ForbiddenError(`pages on ${origin} may not connect to this server (APP_ORIGINS)`));
    }
    const release = perIp.tryAcquire(ip);
    if (!release) {
      opts.logger.warn({ ip, limit: opts.maxSocketsPerIp }, 'socket.io connection refused: address at MAX_SOCKETS_PER_IP');
      return refuse(req, res, new RateLimitError(`${opts.maxSocketsPerIp} connections per address is the limit (MAX_SOCKETS_PER_IP)`, RETRY_AFTER_S));
    }
    // Freed if the handshake never becomes a connection (refused later by engine.io, or dropped).
    const onSocketClose = () => release();
    req.socket.once('close', onSocketClose);
    reserved.set(req, { release, onSocketClose });
    next();
  });

  // engine.io answers its own requests; its responses get the header every other one gets in app.ts.
  io.engine.on('headers', (headers: Record<string, string>) => {
    headers['x-content-type-options'] = 'nosniff';
  });

  io.engine.on('connection', (conn: { request: IncomingMessage; once(event: 'close', cb: () => void): void }) => {
    const slot = reserved.get(conn.request);
    if (!slot) return;
    reserved.delete(conn.request);
    // From now on the connection holds the slot; a polling handshake's TCP socket may close long before it.
    conn.request.socket.off('close', slot.onSocketClose);
    conn.once('close', slot.release);
  });
  io.engine.on('connection_error', (e: { req: IncomingMessage }) => {
    const slot = reserved.get(e.req);
    if (!slot) return;
    reserved.delete(e.req);
    e.req.socket.off('close', slot.onSocketClose);
    slot.release();
  });
}

import type { Server, Socket } from 'socket.io';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { BadRequestError, RateLimitError, SessionNotFoundError, publicError } from '../shared/errors.js';
import { TokenBucket, clientKey } from '../shared/limits.js';
import { parseWith } from '../shared/parse.js';
import {
  iceCandidateSchema,
  setOptionsSchema,
  startSessionSchema,
  switchModelSchema,
  type Ack,
  type Backend,
  type ClientToServerEvents,
  type CloseReason,
  type InterServerEvents,
  type IceCandidate,
  type ServerToClientEvents,
  type SessionInfo,
  type SessionOptions,
  type SessionStats,
  type SocketData,
  type WireError,
} from '../contract/index.js';

export type StartSession = z.output<typeof startSessionSchema>;

/** What signaling needs of a live session; the session module implements it. */
export interface LiveSessionPort {
  readonly id: string;
  switchModel(modelId: string): Promise<{ modelId: string; backend: Backend }>;
  setOptions(opts: { smoothing?: number; processingShortSidePx?: number | 'auto' }): SessionOptions;
  addIceCandidate(candidate: IceCandidate): Promise<void>;
  /** The answer has been sent: the idle timeout starts now. */
  answerSent(): void;
  close(reason: CloseReason): Promise<void>;
}

/** Who asked for a session; limits are kept per address. */
export interface ClientInfo {
  ip: string;
}

export interface SessionEvents {
  stats(stats: SessionStats): void;
  error(err: WireError): void;
  closed(reason: CloseReason): void;
  modelChanged(info: { modelId: string; backend: Backend }): void;
}

export interface SessionFactory {
  create(req: StartSession, events: SessionEvents, client: ClientInfo): Promise<{ session: LiveSessionPort; info: SessionInfo }>;
}

export type SignalingServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type SignalingSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

const parseStart = parseWith(startSessionSchema, BadRequestError);
const parseIce = parseWith(iceCandidateSchema, BadRequestError);
const parseSwitch = parseWith(switchModelSchema, BadRequestError);
const parseOptions = parseWith(setOptionsSchema, BadRequestError);

/** Errors reach the client through the same policy as HTTP's: unknown ones as INTERNAL, logged here. */
function wire(err: unknown, log: Logger, what: string): WireError {
  const { code, message, internal } = publicError(err);
  if (internal) log.error({ err }, `${what} failed`);
  return { code, message };
}

/** A socket.io ack is optional for clients; a missing one must not crash the handler. */
function safeAck<T>(ack: unknown): Ack<T> {
  return typeof ack === 'function' ? (ack as Ack<T>) : () => {};
}

/**
 * Binds socket.io events to live sessions: one session per socket, validated payloads, typed
 * errors in acks, and the session closed when its socket goes away.
 */
export interface SignalingOptions {
  /** Events per second one socket may send, bursts of twice that; the rest are refused. */
  maxEventsPerS: number;
}

export function attachSignaling(io: SignalingServer, factory: SessionFactory, logger: Logger, opts: SignalingOptions): void {
  io.on('connection', (socket: SignalingSocket) => {
    let session: LiveSessionPort | null = null;
    let starting: Promise<unknown> | null = null;
    let pending = false;
    const client: ClientInfo = { ip: clientKey(socket.handshake.address) };
    const log = logger.child({ socket: socket.id });
    const bucket = new TokenBucket(opts.maxEventsPerS, opts.maxEventsPerS * 2);
    let refusalLogged = 0;
    socket.use((packet, next) => {
      if (bucket.take()) return next();
      const err = new RateLimitError(`more than ${opts.maxEventsPerS} events a second (MAX_SOCKET_EVENTS_PER_S); this one was dropped`, 1);
      const ack = packet[packet.length - 1];
      if (typeof ack === 'function') (ack as Ack<object>)({ ok: false, error: wire(err, log, String(packet[0])) });
      // Once a second at most: a line in the log, and for events without an ack, one session:error.
      if (Date.now() - refusalLogged > 1000) {
        refusalLogged = Date.now();
        log.warn({ ip: client.ip, event: packet[0] }, 'socket.io events refused: over MAX_SOCKET_EVENTS_PER_S');
        if (typeof ack !== 'function') socket.emit('session:error', wire(err, log, String(packet[0])));
      }
    });

    const closeSession = async (reason: CloseReason) => {
      const s = session;
      session = null;
      socket.data.sessionId = undefined;
      if (s) await s.close(reason);
    };

    const current = (): LiveSessionPort => {
      if (!session) throw new SessionNotFoundError('no live session on this connection: start one first');
      return session;
    };

    socket.on('session:start', (payload, rawAck) => {
      const ack = safeAck<SessionInfo>(rawAck);
      if (pending) {
        // One start at a time per socket: a second one would race the first for the socket's session.
        log.warn('session:start refused: one is already starting on this socket');
        ack({ ok: false, error: wire(new RateLimitError('a session is already starting on this connection; wait for its answer', 1), log, 'session:start') });
        return;
      }
      pending = true;
      const run = async () => {
        const req = parseStart(payload);
        await closeSession('stopped');
        const events: SessionEvents = {
          stats: (s) => socket.emit('session:stats', s),
          error: (e) => socket.emit('session:error', e),
          modelChanged: (m) => socket.emit('session:model-changed', m),
          closed: (reason) => {
            if (created && session === created) {
              session = null;
              socket.data.sessionId = undefined;
            }
            socket.emit('session:closed', { sessionId: created?.id ?? '', reason });
          },
        };
        let created: LiveSessionPort | null = null;
        const { session: s, info } = await factory.create(req, events, client);
        created = s;
        if (socket.disconnected) {
          await s.close('disconnected');
          return;
        }
        session = s;
        socket.data.sessionId = s.id;
        log.info({ session: s.id, model: info.modelId, backend: info.backend, codec: info.codec }, 'session started');
        ack({ ok: true, ...info });
        s.answerSent();
      };
      starting = run()
        .catch((err: unknown) => ack({ ok: false, error: wire(err, log, 'session start') }))
        .finally(() => {
          pending = false;
        });
    });

    socket.on('session:ice', (payload) => {
      try {
        const c = parseIce(payload);
        current()
          .addIceCandidate(c)
          .catch((err: unknown) => socket.emit('session:error', wire(err, log, 'session:ice')));
      } catch (err) {
        socket.emit('session:error', wire(err, log, 'session:ice'));
      }
    });

    socket.on('session:model', (payload, rawAck) => {
      const ack = safeAck<{ modelId: string; backend: Backend }>(rawAck);
      (async () => {
        const { modelId } = parseSwitch(payload);
        ack({ ok: true, ...(await current().switchModel(modelId)) });
      })().catch((err: unknown) => ack({ ok: false, error: wire(err, log, 'session:model') }));
    });

    socket.on('session:options', (payload, rawAck) => {
      const ack = safeAck<SessionOptions>(rawAck);
      try {
        const opts = parseOptions(payload);
        ack({ ok: true, ...current().setOptions(opts) });
      } catch (err) {
        ack({ ok: false, error: wire(err, log, 'session:options') });
      }
    });

    socket.on('session:stop', (rawAck) => {
      const ack = safeAck<object>(rawAck);
      closeSession('stopped').then(
        () => ack({ ok: true }),
        (err: unknown) => ack({ ok: false, error: wire(err, log, 'session:stop') }),
      );
    });

    socket.on('disconnect', () => {
      void (async () => {
        await starting;
        await closeSession('disconnected');
      })();
    });
  });
}

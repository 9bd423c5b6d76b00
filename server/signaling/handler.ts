import type { Server, Socket } from 'socket.io';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { BadRequestError, CycleStreamError, SessionNotFoundError, asCycleStreamError } from '../shared/errors.js';
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
  type SessionStats,
  type SocketData,
  type WireError,
} from './events.js';

export type StartSession = z.output<typeof startSessionSchema>;

/** What signaling needs of a live session; the session module implements it. */
export interface LiveSessionPort {
  readonly id: string;
  switchModel(modelId: string): Promise<{ modelId: string; backend: Backend }>;
  setOptions(opts: { smoothing?: number; processingShortSidePx?: number }): { smoothing: number; processingShortSidePx: number };
  addIceCandidate(candidate: IceCandidate): Promise<void>;
  close(reason: CloseReason): Promise<void>;
}

export interface SessionEvents {
  stats(stats: SessionStats): void;
  error(err: WireError): void;
  closed(reason: CloseReason): void;
  modelChanged(info: { modelId: string; backend: Backend }): void;
}

export interface SessionFactory {
  create(req: StartSession, events: SessionEvents): Promise<{ session: LiveSessionPort; info: SessionInfo }>;
}

export type SignalingServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type SignalingSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

function parse<S extends z.ZodType>(schema: S, payload: unknown): z.output<S> {
  const res = schema.safeParse(payload);
  if (!res.success) {
    const issue = res.error.issues[0];
    throw new BadRequestError(`${issue?.path.join('.') || 'payload'}: ${issue?.message ?? 'invalid'}`);
  }
  return res.data;
}

function wire(err: unknown): WireError {
  return asCycleStreamError(err, BadRequestError).toJSON();
}

/** A socket.io ack is optional for clients; a missing one must not crash the handler. */
function safeAck<T>(ack: unknown): Ack<T> {
  return typeof ack === 'function' ? (ack as Ack<T>) : () => {};
}

/**
 * Binds socket.io events to live sessions: one session per socket, validated payloads, typed
 * errors in acks, and the session closed when its socket goes away.
 */
export function attachSignaling(io: SignalingServer, factory: SessionFactory, logger: Logger): void {
  io.on('connection', (socket: SignalingSocket) => {
    let session: LiveSessionPort | null = null;
    let starting: Promise<unknown> | null = null;
    const log = logger.child({ socket: socket.id });

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
      const run = async () => {
        const req = parse(startSessionSchema, payload);
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
        const { session: s, info } = await factory.create(req, events);
        created = s;
        if (socket.disconnected) {
          await s.close('disconnected');
          return;
        }
        session = s;
        socket.data.sessionId = s.id;
        log.info({ session: s.id, model: info.modelId, backend: info.backend, codec: info.codec }, 'session started');
        ack({ ok: true, ...info });
      };
      starting = run().catch((err: unknown) => {
        if (!(err instanceof CycleStreamError)) log.error({ err }, 'session start failed');
        ack({ ok: false, error: wire(err) });
      });
    });

    socket.on('session:ice', (payload) => {
      try {
        const c = parse(iceCandidateSchema, payload);
        current()
          .addIceCandidate(c)
          .catch((err: unknown) => socket.emit('session:error', wire(err)));
      } catch (err) {
        socket.emit('session:error', wire(err));
      }
    });

    socket.on('session:model', (payload, rawAck) => {
      const ack = safeAck<{ modelId: string; backend: Backend }>(rawAck);
      (async () => {
        const { modelId } = parse(switchModelSchema, payload);
        ack({ ok: true, ...(await current().switchModel(modelId)) });
      })().catch((err: unknown) => ack({ ok: false, error: wire(err) }));
    });

    socket.on('session:options', (payload, rawAck) => {
      const ack = safeAck<{ smoothing: number; processingShortSidePx: number }>(rawAck);
      try {
        const opts = parse(setOptionsSchema, payload);
        ack({ ok: true, ...current().setOptions(opts) });
      } catch (err) {
        ack({ ok: false, error: wire(err) });
      }
    });

    socket.on('session:stop', (rawAck) => {
      const ack = safeAck<object>(rawAck);
      closeSession('stopped').then(
        () => ack({ ok: true }),
        (err: unknown) => ack({ ok: false, error: wire(err) }),
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

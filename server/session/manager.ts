/**
 * Creates live sessions for signaling, enforces the session limit, and closes everything on
 * shutdown. Everything a session needs is opened in an order that lets a failure undo the
 * earlier steps, so a refused offer never leaks an ORT session or a peer connection.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { assertModelId, type InferenceHost } from '../inference/index.js';
import { createPeerSession } from '../webrtc/index.js';
import type { SessionEvents, SessionFactory, StartSession, LiveSessionPort, SessionInfo } from '../signaling/index.js';
import { BusyError, ClosedError } from '../shared/errors.js';
import { processingSize } from '../shared/image.js';
import { LiveSession, type ResourceCounters } from './live-session.js';

export type ManagerConfig = Pick<
  Config,
  | 'modelsDir'
  | 'providers'
  | 'intraOpThreads'
  | 'maxInputWidthPx'
  | 'maxInputHeightPx'
  | 'outputBitrateKbps'
  | 'maxSessions'
  | 'processingShortSidePx'
  | 'videoCodec'
  | 'iceServers'
  | 'iceHostAddresses'
  | 'idleTimeoutMs'
  | 'jitterLatencyMs'
  | 'browserMinBitrateKbps'
  | 'browserStartBitrateKbps'
  | 'browserMaxBitrateKbps'
>;

export class SessionManager implements SessionFactory {
  readonly #sessions = new Map<string, LiveSession>();
  #starting = 0;
  #closed = false;
  readonly counters: ResourceCounters = { codecs: 0 };

  constructor(
    private readonly config: ManagerConfig,
    private readonly host: InferenceHost,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.#sessions.size;
  }

  all(): LiveSession[] {
    return [...this.#sessions.values()];
  }

  get(id: string): LiveSession | undefined {
    return this.#sessions.get(id);
  }

  async create(req: StartSession, events: SessionEvents): Promise<{ session: LiveSessionPort; info: SessionInfo }> {
    if (this.#closed) throw new ClosedError('server is shutting down');
    const modelId = assertModelId(req.modelId);
    if (this.#sessions.size + this.#starting >= this.config.maxSessions) {
      throw new BusyError(`server busy: ${this.config.maxSessions} live session(s) is the limit; try again later`);
    }
    this.#starting++;
    try {
      const generator = await this.host.loadModel({
        modelsDir: this.config.modelsDir,
        id: modelId,
        providers: this.config.providers,
        intraOpThreads: this.config.intraOpThreads,
      });
      const id = randomUUID();
      const log = this.logger.child({ session: id });
      let peer;
      try {
        const shortSide = req.processingShortSidePx ?? this.config.processingShortSidePx;
        // Warm up at the 640x480 camera's processing size while ICE gathers; other sizes warm on first use.
        const warm = processingSize(640, 480, shortSide, generator.manifest.input.sizeMultiple);
        [peer] = await Promise.all([
          createPeerSession({
            offerSdp: req.offerSdp,
            iceServers: this.config.iceServers,
            iceAdditionalHostAddresses: this.config.iceHostAddresses,
            preferCodec: this.config.videoCodec,
            browserBitrateKbps: {
              min: this.config.browserMinBitrateKbps,
              start: this.config.browserStartBitrateKbps,
              max: this.config.browserMaxBitrateKbps,
            },
            jitterLatencyMs: this.config.jitterLatencyMs,
            idleTimeoutMs: this.config.idleTimeoutMs,
            logger: log,
          }),
          generator.warmup(warm.width, warm.height),
        ]);
      } catch (err) {
        await generator.close();
        throw err;
      }
      const session = new LiveSession({
        id,
        peer,
        host: this.host,
        generator,
        config: this.config,
        counters: this.counters,
        smoothing: req.smoothing,
        processingShortSidePx: req.processingShortSidePx ?? this.config.processingShortSidePx,
        logger: log,
        events: {
          ...events,
          closed: (reason) => {
            this.#sessions.delete(id);
            events.closed(reason);
          },
        },
      });
      this.#sessions.set(id, session);
      return {
        session,
        info: { sessionId: id, answerSdp: peer.answerSdp, modelId, backend: generator.provider, codec: peer.codec },
      };
    } finally {
      this.#starting--;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#sessions.values()].map((s) => s.close('server-shutdown')));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

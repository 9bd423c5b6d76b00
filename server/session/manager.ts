/**
 * Creates live sessions for signaling, enforces the session limit, and closes everything on
 * shutdown. Everything a session needs is opened in an order that lets a failure undo the
 * earlier steps, so a refused offer never leaks an ORT session or a peer connection.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { assertModelId, type InferenceHost } from '../inference/index.js';
import { createPeerSession, type PeerSession, type PeerSessionOptions } from '../webrtc/index.js';
import type { SessionEvents, SessionFactory, StartSession, LiveSessionPort, SessionInfo, StreamSource } from '../signaling/index.js';
import type { VideoCodecName } from '../webrtc/index.js';
import { BusyError, ClosedError } from '../shared/errors.js';
import { processingSize } from '../shared/image.js';
import { LiveSession, type ResourceCounters } from './live-session.js';

export type ManagerConfig = Pick<
  Config,
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
  | 'maxViewersPerStream'
  | 'smoothing'
>;

/** What a session is opened with, whether it came from socket.io signaling or WHIP. */
interface OpenRequest {
  modelId: string;
  offerSdp: string;
  smoothing: number;
  processingShortSidePx?: number;
  source: StreamSource;
  events: SessionEvents;
}

export class SessionManager implements SessionFactory {
  readonly #sessions = new Map<string, LiveSession>();
  #starting = 0;
  #closed = false;
  readonly counters: ResourceCounters = { codecs: 0, peers: 0 };

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
    const { session, info } = await this.#open({ ...req, source: 'webcam', events });
    return { session, info };
  }

  /** A WHIP publisher: the same pipeline, no socket; its output goes to viewers only. */
  async createWhip(req: { modelId: string; offerSdp: string }): Promise<{ session: LiveSession; info: SessionInfo }> {
    let log: Logger = this.logger;
    const events: SessionEvents = {
      stats: () => {},
      modelChanged: () => {},
      error: (e) => log.warn({ err: e }, 'whip session error'),
      closed: () => {},
    };
    const opened = await this.#open({ ...req, smoothing: this.config.smoothing, source: 'whip', events });
    log = this.logger.child({ session: opened.session.id });
    return opened;
  }

  async #open(req: OpenRequest): Promise<{ session: LiveSession; info: SessionInfo }> {
    if (this.#closed) throw new ClosedError('server is shutting down');
    const modelId = assertModelId(req.modelId);
    if (this.#sessions.size + this.#starting >= this.config.maxSessions) {
      throw new BusyError(`server busy: ${this.config.maxSessions} live session(s) is the limit; try again later`);
    }
    this.#starting++;
    try {
      const generator = await this.host.loadModel(modelId);
      const id = randomUUID();
      const log = this.logger.child({ session: id, source: req.source });
      let peer;
      const shortSide = req.processingShortSidePx ?? this.config.processingShortSidePx;
      try {
        // Warm up at the 640x480 camera's processing size while ICE gathers; other sizes warm on first use.
        const warm = processingSize(640, 480, shortSide, generator.manifest.input.sizeMultiple);
        [peer] = await Promise.all([
          this.#createPeer({
            ...this.#peerOptions(log),
            offerSdp: req.offerSdp,
            preferCodec: this.config.videoCodec,
            browserBitrateKbps: {
              min: this.config.browserMinBitrateKbps,
              start: this.config.browserStartBitrateKbps,
              max: this.config.browserMaxBitrateKbps,
            },
          }),
          generator.warmup(warm.width, warm.height),
        ]);
      } catch (err) {
        await generator.close();
        throw err;
      }
      const events = req.events;
      const session = new LiveSession({
        id,
        peer,
        host: this.host,
        generator,
        config: this.config,
        counters: this.counters,
        smoothing: req.smoothing,
        processingShortSidePx: shortSide,
        logger: log,
        source: req.source,
        outputCodec: this.config.videoCodec,
        maxViewers: this.config.maxViewersPerStream,
        createViewerPeer: (offerSdp: string, codec: VideoCodecName) =>
          this.#createPeer({ ...this.#peerOptions(log), offerSdp, role: 'viewer', viewerCodec: codec }),
        events: {
          ...events,
          closed: (reason) => {
            this.#sessions.delete(id);
            events.closed(reason);
          },
        },
      });
      this.#sessions.set(id, session);
      log.info({ model: modelId, codec: peer.codec, output: session.outputCodec }, 'stream started');
      return {
        session,
        info: { sessionId: id, answerSdp: peer.answerSdp, modelId, backend: generator.provider, codec: peer.codec },
      };
    } finally {
      this.#starting--;
    }
  }

  /** Counted from creation until the peer connection has closed. */
  async #createPeer(options: PeerSessionOptions): Promise<PeerSession> {
    const peer = await createPeerSession(options);
    this.counters.peers++;
    peer.onClosed(() => {
      this.counters.peers--;
    });
    return peer;
  }

  #peerOptions(log: Logger) {
    return {
      iceServers: this.config.iceServers,
      iceAdditionalHostAddresses: this.config.iceHostAddresses,
      jitterLatencyMs: this.config.jitterLatencyMs,
      idleTimeoutMs: this.config.idleTimeoutMs,
      logger: log,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#sessions.values()].map((s) => s.close('server-shutdown')));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

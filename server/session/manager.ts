/**
 * Creates live sessions for signaling, enforces the session limits (global and per address), and
 * closes everything on shutdown. The offer is checked first, so a refused one costs a parse and
 * never a model load; everything after is opened in an order that lets a failure undo the
 * earlier steps at once, so a failed start leaks no ORT session and no peer connection.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { assertModelId, type InferenceHost } from '../inference/index.js';
import { inspectOffer, type PeerSession, type SdpLimits } from '../webrtc/index.js';
import type { SessionInfo, StreamSource } from '../contract/index.js';
import type { ClientInfo, SessionEvents, SessionFactory, StartSession } from '../signaling/index.js';
import type { VideoCodecName } from '../webrtc/index.js';
import { BusyError, ClosedError, ModelLoadError, RateLimitError, asCycleStreamError } from '../shared/errors.js';
import { processingSize } from '../shared/image.js';
import { KeyedCounter } from '../shared/limits.js';
import { OwnerScope, type Owner } from '../shared/owners.js';
import type { Generator } from '../inference/index.js';
import { LiveSession, type ResourceCounters } from './live-session.js';
import type { LiveCodecs } from './decode-stage.js';
import { PeerFactory } from './peers.js';
import { ShortSideSetting } from './processing-size.js';

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
  | 'maxSessionsPerIp'
  | 'maxSdpBytes'
  | 'maxSdpMediaSections'
  | 'maxSdpFormatsPerSection'
  | 'maxSdpAttributeLines'
  | 'maxSdpLineBytes'
  | 'maxIceCandidatesPerSession'
>;

/** Seconds a client over its per-address share is told to wait; sessions end within seconds of a tab closing. */
const PER_IP_RETRY_AFTER_S = 10;

export function sdpLimitsOf(config: ManagerConfig): SdpLimits {
  return {
    maxBytes: config.maxSdpBytes,
    maxMediaSections: config.maxSdpMediaSections,
    maxFormatsPerSection: config.maxSdpFormatsPerSection,
    maxAttributeLines: config.maxSdpAttributeLines,
    maxLineBytes: config.maxSdpLineBytes,
    maxCandidates: config.maxIceCandidatesPerSession,
  };
}

export interface ManagerOptions {
  /** Process-level errors are traced to the session whose work raised them. Default: a scope of its own. */
  owners?: OwnerScope;
  /** Default: FFmpeg's (tests wrap them to inject failures). */
  codecs?: LiveCodecs;
}

/** What a session is opened with, whether it came from socket.io signaling or WHIP. */
interface OpenRequest {
  modelId: string;
  offerSdp: string;
  smoothing: number;
  /** Absent (WHIP publishers, and clients that leave it to the server): auto. */
  processingShortSidePx?: number;
  source: StreamSource;
  events: SessionEvents;
  client: ClientInfo;
  ownerTokenHash?: string;
}

/** What a start has opened so far, for the crash guard to close if the start's own work throws. */
interface Opening {
  session?: LiveSession;
  peer?: PeerSession;
}

export class SessionManager implements SessionFactory {
  readonly #sessions = new Map<string, LiveSession>();
  #starting = 0;
  #closed = false;
  readonly counters: ResourceCounters = { codecs: 0, peers: 0 };
  readonly sdpLimits: SdpLimits;
  readonly #perIp: KeyedCounter;
  readonly #owners: OwnerScope;
  readonly #codecs: LiveCodecs | undefined;
  readonly #peers: PeerFactory;

  constructor(
    private readonly config: ManagerConfig,
    private readonly host: InferenceHost,
    private readonly logger: Logger,
    options: ManagerOptions = {},
  ) {
    this.sdpLimits = Object.freeze(sdpLimitsOf(config));
    this.#perIp = new KeyedCounter(config.maxSessionsPerIp);
    this.#owners = options.owners ?? new OwnerScope();
    this.#codecs = options.codecs;
    this.#peers = new PeerFactory(config, this.sdpLimits, this.counters, this.#owners);
  }

  get size(): number {
    return this.#sessions.size;
  }

  all(): LiveSession[] {
    return [...this.#sessions.values()];
  }

  get(id: string): LiveSession | undefined {
    return this.#sessions.get(id);
  }

  async create(req: StartSession, events: SessionEvents, client: ClientInfo): Promise<{ session: LiveSession; info: SessionInfo }> {
    // Smoothing the client left out is the server's SMOOTHING, as for WHIP streams and jobs.
    return this.#open({ ...req, smoothing: req.smoothing ?? this.config.smoothing, source: 'webcam', events, client });
  }

  /** A WHIP publisher: the same pipeline, no socket; its output goes to viewers only. */
  async createWhip(
    req: { modelId: string; offerSdp: string; ownerTokenHash?: string },
    client: ClientInfo,
  ): Promise<{ session: LiveSession; info: SessionInfo }> {
    let log: Logger = this.logger;
    const events: SessionEvents = {
      stats: () => {},
      modelChanged: () => {},
      error: (e) => log.warn({ err: e }, 'whip session error'),
      closed: () => {},
    };
    const opened = await this.#open({ ...req, smoothing: this.config.smoothing, source: 'whip', events, client });
    log = this.logger.child({ session: opened.session.id });
    return opened;
  }

  async #open(req: OpenRequest): Promise<{ session: LiveSession; info: SessionInfo }> {
    if (this.#closed) throw new ClosedError('server is shutting down');
    const modelId = assertModelId(req.modelId);
    // The offer first: a hostile or unusable one costs a bounded parse, never a model load.
    inspectOffer(req.offerSdp, this.config.videoCodec, this.sdpLimits);
    if (this.#sessions.size + this.#starting >= this.config.maxSessions) {
      this.logger.warn({ limit: this.config.maxSessions, ip: req.client.ip }, 'session refused: server at MAX_SESSIONS');
      throw new BusyError(`server busy: ${this.config.maxSessions} live session(s) is the limit (MAX_SESSIONS); try again later`);
    }
    const releaseIp = this.#perIp.tryAcquire(req.client.ip);
    if (!releaseIp) {
      this.logger.warn({ limit: this.config.maxSessionsPerIp, ip: req.client.ip }, 'session refused: address at MAX_SESSIONS_PER_IP');
      throw new RateLimitError(
        `${this.config.maxSessionsPerIp} live session(s) per address is the limit (MAX_SESSIONS_PER_IP); stop one or try again later`,
        PER_IP_RETRY_AFTER_S,
      );
    }
    this.#starting++;
    const id = randomUUID();
    const opening: Opening = {};
    const owner: Owner = {
      kind: 'session',
      id,
      fail: (err) => {
        if (opening.session) opening.session.fail('uncaught', err);
        else void opening.peer?.close();
      },
    };
    try {
      const opened = await this.#owners.run(owner, () => this.#build(id, modelId, req, opening, releaseIp));
      if (this.#closed) {
        await opened.session.close('server-shutdown');
        throw new ClosedError('server is shutting down');
      }
      return opened;
    } catch (err) {
      releaseIp();
      throw err;
    } finally {
      this.#starting--;
    }
  }

  async #build(
    id: string,
    modelId: string,
    req: OpenRequest,
    opening: Opening,
    releaseIp: () => void,
  ): Promise<{ session: LiveSession; info: SessionInfo }> {
    const generator = await this.host.loadModel(modelId);
    const log = this.logger.child({ session: id, source: req.source });
    const shortSide = new ShortSideSetting(this.config.processingShortSidePx, req.processingShortSidePx);
    const processing = shortSide.for(generator);
    // Warm up at the 640x480 camera's processing size while ICE gathers; other sizes warm on first use.
    const warm = processingSize(640, 480, processing.px, generator.manifest.input.sizeMultiple);
    const [peerResult, warmResult] = await Promise.allSettled([
      this.#peers.publisher(
        req.offerSdp,
        { min: this.config.browserMinBitrateKbps, start: this.config.browserStartBitrateKbps, max: this.config.browserMaxBitrateKbps },
        log,
      ),
      generator.warmup(warm.width, warm.height),
    ]);
    if (peerResult.status === 'fulfilled') opening.peer = peerResult.value;
    if (peerResult.status === 'rejected' || warmResult.status === 'rejected') {
      // Whichever half failed, the other is closed now, not at its idle timeout.
      await this.#abandon(opening.peer, generator, log);
      if (peerResult.status === 'rejected') throw peerResult.reason;
      throw asCycleStreamError((warmResult as PromiseRejectedResult).reason, ModelLoadError);
    }
    const peer = peerResult.value;
    const events = req.events;
    let session: LiveSession;
    try {
      session = new LiveSession({
        id,
        peer,
        host: this.host,
        generator,
        config: this.config,
        counters: this.counters,
        smoothing: req.smoothing,
        shortSide,
        logger: log,
        source: req.source,
        outputCodec: this.config.videoCodec,
        maxViewers: this.config.maxViewersPerStream,
        createViewerPeer: (offerSdp: string, codec: VideoCodecName) => this.#peers.viewer(id, offerSdp, codec, log),
        ...(this.#codecs ? { codecs: this.#codecs } : {}),
        ...(req.ownerTokenHash ? { ownerTokenHash: req.ownerTokenHash } : {}),
        events: {
          ...events,
          closed: (reason) => {
            this.#sessions.delete(id);
            releaseIp();
            events.closed(reason);
          },
        },
      });
    } catch (err) {
      await this.#abandon(peer, generator, log);
      throw err;
    }
    opening.session = session;
    this.#sessions.set(id, session);
    log.info({ model: modelId, codec: peer.codec, output: session.outputCodec }, 'stream started');
    return {
      session,
      info: {
        sessionId: id,
        answerSdp: peer.answerSdp,
        modelId,
        backend: generator.provider,
        codec: peer.codec,
        processingShortSidePx: processing.px,
        processingAuto: processing.auto,
      },
    };
  }

  async #abandon(peer: PeerSession | undefined, generator: Generator, log: Logger): Promise<void> {
    const results = await Promise.allSettled([peer?.close(), generator.close()]);
    for (const r of results) if (r.status === 'rejected') log.warn({ err: r.reason }, 'closing a failed start');
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#sessions.values()].map((s) => s.close('server-shutdown')));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

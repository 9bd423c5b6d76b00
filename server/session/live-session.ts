/**
 * One live translation, in three parts: ingest (LiveIngest: the publisher's frames decoded as
 * they come, converted to RGB at the processing size, and a latest-frame-wins scheduler), the
 * model (ModelSlot) with its temporal stage (FrameTranslator), and egress (LiveEgress: one
 * encoder, the fan-out to the publisher and its viewers). Key frames in both directions go
 * through one KeyframePolicy, numbers through LiveStats. Owns all of them and the publisher's
 * peer connection.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Generator, InferenceHost } from '../inference/index.js';
import { createTemporalSmoother } from '../temporal/index.js';
import { FrameTranslator } from '../translate/index.js';
import type { PeerSession } from '../webrtc/index.js';
import type { ViewerSet, CreateViewerPeer } from '../streams/index.js';
import type { Backend, CloseReason, SessionOptions, SessionStats, StreamSource, StreamStateEvent, VideoCodecName } from '../contract/index.js';
import type { SessionEvents } from '../signaling/index.js';
import { ClosedError, CodecError, asCycleStreamError, publicError } from '../shared/errors.js';
import { Listeners } from '../shared/listeners.js';
import { FFMPEG_CODECS, processingTarget, type DecodedPicture, type LiveCodecs, type LiveStage, type ResourceCounters } from './decode-stage.js';
import { LiveEgress, type EgressCounters } from './egress.js';
import type { InputSizeLimits } from './frame-size.js';
import { LiveIngest } from './ingest.js';
import { KeyframePolicy } from './keyframes.js';
import { LiveStats } from './live-stats.js';
import { ModelSlot } from './model-slot.js';
import type { ShortSideSetting } from './processing-size.js';

export type SessionConfig = Pick<Config, 'maxInputWidthPx' | 'maxInputHeightPx' | 'outputBitrateKbps'>;

export type { ResourceCounters };

export interface LiveSessionOptions {
  id: string;
  peer: PeerSession;
  host: InferenceHost;
  generator: Generator;
  config: SessionConfig;
  events: SessionEvents;
  counters: ResourceCounters;
  smoothing: number;
  /** Auto or explicit; resolved against the current model on every frame, so auto follows switches. */
  shortSide: ShortSideSetting;
  logger: Logger;
  statsIntervalMs?: number;
  source: StreamSource;
  /** Codec of the translated output when the publisher takes none back (WHIP); else the peer's. */
  outputCodec: VideoCodecName;
  maxViewers: number;
  createViewerPeer: CreateViewerPeer;
  /** Default: FFmpeg's, through node-av. */
  codecs?: LiveCodecs;
  /** sha256 of the bearer token that created a WHIP stream; PATCH and DELETE need it (or an operator's). */
  ownerTokenHash?: string;
}

export type StreamCounters = { modelRuns: number } & EgressCounters;

export class LiveSession {
  readonly id: string;
  readonly #model: ModelSlot;
  #smoothing: number;
  readonly #shortSide: ShortSideSetting;
  readonly #converter;
  readonly #temporal;
  readonly #ingest: LiveIngest;
  readonly #translator: FrameTranslator<number>;
  readonly #keyframes: KeyframePolicy;
  readonly #egress: LiveEgress;
  readonly #stats = new LiveStats();
  #closing: Promise<void> | null = null;
  #closeReason: CloseReason | null = null;
  readonly #unsubscribe: (() => void)[] = [];
  readonly #statsTimer: NodeJS.Timeout;
  #procSize = { width: 0, height: 0 };
  readonly #limits: InputSizeLimits;
  readonly startedAt = new Date();
  readonly #streamListeners: Listeners<StreamStateEvent>;
  readonly ownerTokenHash: string | undefined;

  constructor(private readonly opts: LiveSessionOptions) {
    this.id = opts.id;
    this.ownerTokenHash = opts.ownerTokenHash;
    const codecs = opts.codecs ?? FFMPEG_CODECS;
    this.#converter = codecs.createConverter();
    this.#smoothing = opts.smoothing;
    this.#shortSide = opts.shortSide;
    this.#limits = { maxWidthPx: opts.config.maxInputWidthPx, maxHeightPx: opts.config.maxInputHeightPx };
    this.#temporal = createTemporalSmoother({ strength: opts.smoothing });
    this.#model = new ModelSlot(opts.generator, {
      host: opts.host,
      closing: () => this.#closing !== null,
      // Auto may run the next model at another size than this one: warm it at its own.
      warmSize: (next) => (this.#procSize.width === 0 ? this.#procSize : this.#target(this.#ingest.inputSize.width, this.#ingest.inputSize.height, next).proc),
      onSwitched: (info) => {
        // Blending the old model's output into the new one's would smear the switch.
        this.#temporal.reset();
        opts.events.modelChanged(info);
      },
      onLoadError: (err) => opts.events.error(err.toJSON()),
      logger: opts.logger,
    });
    this.#streamListeners = new Listeners((err) => this.opts.logger.error({ err }, 'stream listener threw'));
    const peer = opts.peer;
    this.#keyframes = new KeyframePolicy((reason) => peer.requestKeyframe(reason), opts.logger);
    this.#egress = new LiveEgress({
      publisher: peer,
      outputCodec: opts.outputCodec,
      outputBitrateKbps: opts.config.outputBitrateKbps,
      createEncoder: codecs.createEncoder,
      counters: opts.counters,
      keyframes: this.#keyframes,
      stats: this.#stats,
      maxViewers: opts.maxViewers,
      createViewerPeer: opts.createViewerPeer,
      onViewersChange: (viewers) => this.#streamListeners.emit({ state: 'live', viewers }),
      logger: opts.logger,
    });
    this.#translator = new FrameTranslator<number>({
      temporal: this.#temporal,
      converter: this.#converter,
      encode: (yuv, receivedAtMs) => (this.#closing ? Promise.resolve() : this.#egress.send(yuv, receivedAtMs)),
      onError: (err) => this.fail((err as { stage?: LiveStage }).stage ?? 'encode', err),
    });
    this.#ingest = new LiveIngest({
      createDecoder: codecs.createDecoder,
      converter: this.#converter,
      counters: opts.counters,
      limits: this.#limits,
      keyframes: this.#keyframes,
      // Nobody watching (a WHIP stream before its first viewer): decode to keep the reference
      // frames, but leave the model and the encoder idle.
      target: (width, height) => (this.#egress.receivers === 0 ? null : this.#target(width, height, this.#model.current)),
      process: (picture) => this.#translate(picture),
      report: (err) => opts.events.error(err),
      onError: (stage, err) => this.fail(stage, err),
      logger: opts.logger,
    });
    this.#unsubscribe.push(
      peer.onFrame((f) => {
        if (!this.#closing) this.#ingest.push(f);
      }),
      peer.onKeyframeRequest((source) => this.#keyframes.forceOutput(`publisher-${source}`)),
      peer.onClosed((reason) => {
        void this.close(reason === 'closed' ? 'disconnected' : reason);
      }),
    );
    this.#statsTimer = setInterval(() => opts.events.stats(this.stats()), opts.statsIntervalMs ?? 1000);
    this.#statsTimer.unref();
  }

  get backend(): Backend {
    return this.#model.current.provider;
  }

  get modelId(): string {
    return this.#model.current.manifest.id;
  }

  /**
   * Where every failing chain of this session ends (receive, decode, toRgb, model, encode, send,
   * and process-level errors traced to it): one log line, the error to the client, and the
   * session closed with reason 'error'. The server and the other sessions go on.
   */
  fail(stage: LiveStage | 'uncaught', err: unknown): void {
    if (this.#closing) return;
    this.opts.logger.error({ err, stage }, 'session failed; closing it');
    const { code, message } = publicError(err);
    this.opts.events.error({ code, message: `${stage}: ${message}` });
    void this.close('error').catch((closeErr: unknown) => this.opts.logger.warn({ err: closeErr }, 'closing a failed session'));
  }

  /** The answer has gone to the client: from now on, silence means it is gone. */
  answerSent(): void {
    this.opts.peer.startIdleTimer();
  }

  /** Where an input of this size is scaled to for `gen`, at the short side the session's setting gives it. */
  #target(width: number, height: number, gen: Generator): ReturnType<typeof processingTarget> {
    return processingTarget(width, height, this.#limits, this.#shortSide.for(gen).px, gen.manifest.input.sizeMultiple);
  }

  /** The model now; smoothing, scaling and encoding of this frame overlap the next frame's model run. */
  #translate(job: DecodedPicture): Promise<void> {
    const gen = this.#model.current;
    this.#procSize = { width: job.img.width, height: job.img.height };
    const run = this.#translator
      .translate(gen, {
        img: job.img,
        streamWidth: job.streamWidth,
        streamHeight: job.streamHeight,
        meta: job.receivedAtMs,
        release: () => this.#ingest.release(job),
      })
      .then(() => this.#stats.inferenceMs.add(gen.stats().lastInferenceMs, Date.now()));
    this.#model.track(run);
    return run;
  }

  switchModel(modelId: string): Promise<{ modelId: string; backend: Backend }> {
    return this.#model.switchTo(modelId);
  }

  setOptions(o: { smoothing?: number; processingShortSidePx?: number | 'auto' }): SessionOptions {
    if (o.smoothing !== undefined) {
      this.#temporal.setStrength(o.smoothing);
      this.#smoothing = o.smoothing;
    }
    if (o.processingShortSidePx !== undefined) this.#shortSide.set(o.processingShortSidePx);
    const { px, auto } = this.#shortSide.for(this.#model.current);
    return { smoothing: this.#smoothing, processingShortSidePx: px, processingAuto: auto };
  }

  async addIceCandidate(c: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }): Promise<void> {
    await this.opts.peer.addIceCandidate(c);
  }

  stats(): SessionStats {
    return this.#stats.snapshot({
      sessionId: this.id,
      modelId: this.modelId,
      backend: this.backend,
      codec: this.opts.peer.codec,
      fpsIn: this.#ingest.fpsIn,
      droppedFrames: this.#ingest.droppedFrames,
      input: this.#ingest.inputSize,
      processing: this.#procSize,
      smoothing: this.#smoothing,
    });
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  get source(): StreamSource {
    return this.opts.source;
  }

  get outputCodec(): VideoCodecName {
    return this.#egress.codec;
  }

  /** A WHEP viewer: throws ViewerLimitError, ClosedError or the offer's errors. */
  addViewer(offerSdp: string): Promise<{ viewerId: string; answerSdp: string }> {
    if (this.#closing) return Promise.reject(new ClosedError('the stream has ended'));
    return this.#egress.viewers.add(offerSdp);
  }

  removeViewer(viewerId: string): Promise<boolean> {
    return this.#egress.viewers.remove(viewerId);
  }

  counters(): StreamCounters {
    return { modelRuns: this.#translator.runs, ...this.#egress.counters() };
  }

  viewerStats(): ReturnType<ViewerSet['stats']> {
    return this.#egress.viewers.stats();
  }

  /** `live` with the viewer count on every change, then `offline` once when the stream ends. */
  onStreamEvent(cb: (e: StreamStateEvent) => void): () => void {
    if (this.#closing) {
      queueMicrotask(() => cb({ state: 'offline', viewers: 0 }));
      return () => {};
    }
    return this.#streamListeners.add(cb);
  }

  /** Idempotent: stops media, waits for the frame in flight, then frees every child resource. */
  close(reason: CloseReason = 'stopped'): Promise<void> {
    if (!this.#closing) {
      this.#closeReason = reason;
      this.#closing = this.#doClose();
    }
    return this.#closing;
  }

  async #doClose(): Promise<void> {
    clearInterval(this.#statsTimer);
    for (const u of this.#unsubscribe) u();
    await this.#ingest.stop();
    await this.#translator.flush();
    await this.#egress.flush();
    const errors: unknown[] = [];
    // One after another, each even when an earlier one failed; the first failure is rethrown.
    const steps = [
      () => this.#egress.close(),
      () => this.opts.peer.close(),
      () => this.#ingest.close(),
      () => this.#converter.close(),
      () => this.#model.close(),
    ];
    for (const step of steps) await Promise.resolve().then(step).catch((err: unknown) => errors.push(err));
    this.opts.logger.info({ reason: this.#closeReason, errors: errors.length }, 'session closed');
    this.opts.events.closed(this.#closeReason ?? 'stopped');
    this.#streamListeners.emit({ state: 'offline', viewers: 0 });
    this.#streamListeners.clear();
    if (errors.length) throw asCycleStreamError(errors[0], CodecError);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

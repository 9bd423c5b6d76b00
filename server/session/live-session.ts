/**
 * One live translation: frames from the browser are decoded as they come, converted to RGB
 * at the processing size, and handed to a latest-frame-wins scheduler; the model runs on the
 * newest frame, the temporal stage smooths it, and the result is scaled back to stream size,
 * encoded and sent. Owns its decoder, encoder, converter, generator and peer connection.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Frame, VideoEncoder } from '../codec/index.js';
import { assertModelId, type Generator, type InferenceHost } from '../inference/index.js';
import { createTemporalSmoother } from '../temporal/index.js';
import { FrameTranslator } from '../translate/index.js';
import type { EncodedVideoFrame, PeerSession, VideoCodecName } from '../webrtc/index.js';
import { VideoFanout, ViewerSet, type CreateViewerPeer } from '../streams/index.js';
import type { Backend, CloseReason, SessionStats, StreamSource, StreamStateEvent } from '../signaling/index.js';
import type { SessionEvents } from '../signaling/index.js';
import { BadRequestError, ClosedError, CodecError, FrameTooLargeError, ModelLoadError, asCycleStreamError, publicError } from '../shared/errors.js';
import type { RgbImage } from '../shared/image.js';
import { DecodeStage, FFMPEG_CODECS, processingTarget, type DecodedPicture, type LiveCodecs, type LiveStage, type ResourceCounters } from './decode-stage.js';
import type { GateVerdict } from './frame-size.js';
import { LatestFrameScheduler } from './scheduler.js';
import { SlidingWindow } from './window.js';
import { RateLimiter } from '../webrtc/rate-limiter.js';

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
  processingShortSidePx: number;
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

export interface StreamCounters {
  modelRuns: number;
  framesEncoded: number;
  viewers: number;
  width: number;
  height: number;
}

export class LiveSession {
  readonly id: string;
  #generator: Generator;
  #smoothing: number;
  #shortSidePx: number;
  #encoder: VideoEncoder | null = null;
  readonly #codecs: LiveCodecs;
  readonly #converter;
  readonly #temporal;
  readonly #scheduler: LatestFrameScheduler<DecodedPicture, void>;
  readonly #decoding: DecodeStage;
  /** Refused frames come in bursts (every key frame of a too-large stream); tell the client once a second. */
  readonly #refusalReports = new RateLimiter(1000);
  #running: Promise<void> = Promise.resolve();
  readonly #translator: FrameTranslator<number>;
  #forceKeyframe = true;
  #closing: Promise<void> | null = null;
  #closeReason: CloseReason | null = null;
  #switching: Promise<unknown> = Promise.resolve();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #statsTimer: NodeJS.Timeout;
  readonly #t0 = Date.now();
  readonly #fpsOut = new SlidingWindow();
  readonly #inferenceMs = new SlidingWindow();
  readonly #latencyMs = new SlidingWindow();
  #procSize = { width: 0, height: 0 };
  #lastPtsMs = -1;
  readonly startedAt = new Date();
  readonly #fanout: VideoFanout;
  readonly #viewers: ViewerSet;
  readonly #streamListeners = new Set<(e: StreamStateEvent) => void>();
  #framesEncoded = 0;
  #outputSize = { width: 0, height: 0 };
  readonly ownerTokenHash: string | undefined;

  constructor(private readonly opts: LiveSessionOptions) {
    this.id = opts.id;
    this.ownerTokenHash = opts.ownerTokenHash;
    this.#codecs = opts.codecs ?? FFMPEG_CODECS;
    this.#converter = this.#codecs.createConverter();
    this.#generator = opts.generator;
    this.#smoothing = opts.smoothing;
    this.#shortSidePx = opts.processingShortSidePx;
    this.#temporal = createTemporalSmoother({ strength: opts.smoothing });
    this.#translator = new FrameTranslator<number>({
      temporal: this.#temporal,
      converter: this.#converter,
      encode: (yuv, receivedAtMs) => this.#encodeAndSend(yuv, receivedAtMs),
      onError: (err) => this.fail((err as { stage?: LiveStage }).stage ?? 'encode', err),
    });
    this.#scheduler = new LatestFrameScheduler<DecodedPicture, void>({
      process: (job) => this.#translate(job),
      onDrop: (job) => this.#decoding.release(job.img),
      onError: (err) => this.fail('model', err),
    });
    const limits = { maxWidthPx: opts.config.maxInputWidthPx, maxHeightPx: opts.config.maxInputHeightPx };
    this.#decoding = new DecodeStage({
      createDecoder: this.#codecs.createDecoder,
      converter: this.#converter,
      counters: opts.counters,
      limits,
      requestKeyframe: (reason) => opts.peer.requestKeyframe(reason),
      // Nobody watching (a WHIP stream before its first viewer): decode to keep the reference
      // frames, but leave the model and the encoder idle.
      target: (w, h) =>
        this.#fanout.size === 0 ? null : processingTarget(w, h, limits, this.#shortSidePx, this.#generator.manifest.input.sizeMultiple),
      onPicture: (picture) => this.#scheduler.push(picture),
      onRefused: (verdict) => this.#refused(verdict),
      onError: (stage, err) => this.fail(stage, err),
    });
    const peer = opts.peer;
    const forceKeyframe = () => {
      this.#forceKeyframe = true;
    };
    this.#fanout = new VideoFanout({ codec: peer.sendsVideo ? peer.codec : opts.outputCodec, onKeyframeNeeded: forceKeyframe });
    if (peer.sendsVideo) this.#fanout.add({ id: 'publisher', sendRtp: (packets, key) => peer.sendRtp(packets, key) });
    this.#viewers = new ViewerSet({
      fanout: this.#fanout,
      maxViewers: opts.maxViewers,
      createPeer: opts.createViewerPeer,
      onKeyframeRequest: forceKeyframe,
      onChange: (viewers) => this.#emitStream({ state: 'live', viewers }),
      logger: opts.logger,
    });
    this.#unsubscribe.push(
      peer.onFrame((f) => this.#onEncodedFrame(f)),
      peer.onKeyframeRequest(() => {
        this.#forceKeyframe = true;
      }),
      peer.onClosed((reason) => {
        void this.close(reason === 'closed' ? 'disconnected' : reason);
      }),
    );
    this.#statsTimer = setInterval(() => opts.events.stats(this.stats()), opts.statsIntervalMs ?? 1000);
    this.#statsTimer.unref();
  }

  get #log(): Logger {
    return this.opts.logger;
  }

  get backend(): Backend {
    return this.#generator.provider;
  }

  get modelId(): string {
    return this.#generator.manifest.id;
  }

  #onEncodedFrame(f: EncodedVideoFrame): void {
    if (this.#closing) return;
    try {
      this.#decoding.push(f);
    } catch (err) {
      this.fail('receive', err);
    }
  }

  /** A frame the size gate dropped before decoding: the client hears why, at most once a second. */
  #refused(verdict: Exclude<GateVerdict, { pass: true }>): void {
    if (verdict.reason === 'waiting' || !this.#refusalReports.tryAcquire()) return;
    const { maxInputWidthPx: w, maxInputHeightPx: h } = this.opts.config;
    const err =
      verdict.reason === 'too-large'
        ? new FrameTooLargeError(`the camera sends ${verdict.size.width}x${verdict.size.height}; the limit is ${w}x${h} (MAX_INPUT_WIDTH_PX x MAX_INPUT_HEIGHT_PX, either way round): frames dropped until a smaller key frame`)
        : verdict.error;
    this.#log.warn({ reason: verdict.reason, err: err.message }, 'frame refused before decoding');
    this.opts.events.error(publicError(err));
  }

  /**
   * Where every failing chain of this session ends (receive, decode, toRgb, model, encode, send,
   * and process-level errors traced to it): one log line, the error to the client, and the
   * session closed with reason 'error'. The server and the other sessions go on.
   */
  fail(stage: LiveStage | 'uncaught', err: unknown): void {
    if (this.#closing) return;
    this.#log.error({ err, stage }, 'session failed; closing it');
    const { code, message } = publicError(err);
    this.opts.events.error({ code, message: `${stage}: ${message}` });
    void this.close('error').catch((closeErr: unknown) => this.#log.warn({ err: closeErr }, 'closing a failed session'));
  }

  /** The answer has gone to the client: from now on, silence means it is gone. */
  answerSent(): void {
    this.opts.peer.startIdleTimer();
  }

  /** The model now; smoothing, scaling and encoding of this frame overlap the next frame's model run. */
  #translate(job: DecodedPicture): Promise<void> {
    const gen = this.#generator;
    this.#procSize = { width: job.img.width, height: job.img.height };
    const run = this.#translator
      .translate(gen, {
        img: job.img,
        streamWidth: job.streamWidth,
        streamHeight: job.streamHeight,
        meta: job.receivedAtMs,
        release: () => this.#decoding.release(job.img),
      })
      .then(() => this.#inferenceMs.add(gen.stats().lastInferenceMs, Date.now()));
    this.#running = run.catch(() => {});
    return run;
  }

  async #encodeAndSend(yuv: Frame, receivedAtMs: number): Promise<void> {
    if (this.#closing) return;
    if (!this.#encoder) {
      this.#encoder = this.#codecs.createEncoder({
        codec: this.#fanout.codec,
        width: yuv.width,
        height: yuv.height,
        fps: 30,
        bitrateKbps: this.opts.config.outputBitrateKbps,
      });
      this.opts.counters.codecs++;
    }
    const keyframe = this.#forceKeyframe;
    this.#forceKeyframe = false;
    const ptsMs = Math.max(this.#lastPtsMs + 1, Date.now() - this.#t0);
    this.#lastPtsMs = ptsMs;
    const packets = await this.#encoder.encode(yuv, { keyframe, ptsMs });
    try {
      // Encoded once, packetized once, forwarded to the publisher (when it takes video back) and every viewer.
      for (const p of packets) this.#fanout.write({ data: p.data, keyframe: p.keyframe, ptsMs: p.ptsMs });
    } catch (err) {
      throw Object.assign(asCycleStreamError(err, CodecError), { stage: 'send' as const });
    }
    this.#framesEncoded += packets.length;
    this.#outputSize = { width: yuv.width, height: yuv.height };
    const now = Date.now();
    this.#fpsOut.add(1, now);
    this.#latencyMs.add(now - receivedAtMs, now);
  }

  async switchModel(modelId: string): Promise<{ modelId: string; backend: Backend }> {
    assertModelId(modelId);
    const next = this.#switching.catch(() => {}).then(async () => {
      if (this.#closing) throw new BadRequestError('session is closing');
      if (modelId === this.#generator.manifest.id) return { modelId, backend: this.#generator.provider };
      let gen: Generator;
      try {
        gen = await this.opts.host.loadModel(modelId);
      } catch (err) {
        const e = asCycleStreamError(err, ModelLoadError);
        this.opts.events.error(e.toJSON());
        throw e;
      }
      if (this.#procSize.width > 0) {
        try {
          await gen.warmup(this.#procSize.width, this.#procSize.height);
        } catch (err) {
          await gen.close();
          const e = asCycleStreamError(err, ModelLoadError);
          this.opts.events.error(e.toJSON());
          throw e;
        }
      }
      if (this.#closing) {
        await gen.close();
        throw new BadRequestError('session is closing');
      }
      const old = this.#generator;
      this.#generator = gen;
      // Blending the old model's output into the new one's would smear the switch.
      this.#temporal.reset();
      void this.#running.then(() => old.close());
      const info = { modelId, backend: gen.provider };
      this.opts.events.modelChanged(info);
      this.#log.info(info, 'model switched');
      return info;
    });
    this.#switching = next;
    return next;
  }

  setOptions(o: { smoothing?: number; processingShortSidePx?: number }): { smoothing: number; processingShortSidePx: number } {
    if (o.smoothing !== undefined) {
      this.#temporal.setStrength(o.smoothing);
      this.#smoothing = o.smoothing;
    }
    if (o.processingShortSidePx !== undefined) this.#shortSidePx = o.processingShortSidePx;
    return { smoothing: this.#smoothing, processingShortSidePx: this.#shortSidePx };
  }

  async addIceCandidate(c: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }): Promise<void> {
    await this.opts.peer.addIceCandidate(c);
  }

  stats(): SessionStats {
    const now = Date.now();
    return {
      sessionId: this.id,
      modelId: this.modelId,
      backend: this.backend,
      codec: this.opts.peer.codec,
      fpsIn: this.#decoding.fpsIn.rate(now),
      fpsOut: this.#fpsOut.rate(now),
      inferenceMs: round1(this.#inferenceMs.median(now)),
      serverLatencyMs: round1(this.#latencyMs.median(now)),
      droppedFrames: this.#scheduler.stats().dropped,
      inputWidth: this.#decoding.inputSize.width,
      inputHeight: this.#decoding.inputSize.height,
      processingWidth: this.#procSize.width,
      processingHeight: this.#procSize.height,
      smoothing: this.#smoothing,
    };
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  get source(): StreamSource {
    return this.opts.source;
  }

  get outputCodec(): VideoCodecName {
    return this.#fanout.codec;
  }

  /** A WHEP viewer: throws ViewerLimitError, ClosedError or the offer's errors. */
  addViewer(offerSdp: string): Promise<{ viewerId: string; answerSdp: string }> {
    if (this.#closing) return Promise.reject(new ClosedError('the stream has ended'));
    return this.#viewers.add(offerSdp);
  }

  removeViewer(viewerId: string): Promise<boolean> {
    return this.#viewers.remove(viewerId);
  }

  counters(): StreamCounters {
    return {
      modelRuns: this.#translator.runs,
      framesEncoded: this.#framesEncoded,
      viewers: this.#viewers.size,
      width: this.#outputSize.width,
      height: this.#outputSize.height,
    };
  }

  viewerStats(): ReturnType<ViewerSet['stats']> {
    return this.#viewers.stats();
  }

  /** `live` with the viewer count on every change, then `offline` once when the stream ends. */
  onStreamEvent(cb: (e: StreamStateEvent) => void): () => void {
    if (this.#closing) {
      queueMicrotask(() => cb({ state: 'offline', viewers: 0 }));
      return () => {};
    }
    this.#streamListeners.add(cb);
    return () => this.#streamListeners.delete(cb);
  }

  #emitStream(e: StreamStateEvent): void {
    for (const cb of this.#streamListeners) {
      try {
        cb(e);
      } catch (err) {
        this.#log.error({ err }, 'stream listener threw');
      }
    }
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
    this.#decoding.stop();
    await this.#scheduler.close();
    await this.#translator.flush();
    await this.#switching.catch(() => {});
    await this.#fanout.flush();
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    await attempt(() => this.#viewers.close());
    await attempt(() => this.opts.peer.close());
    await attempt(() => this.#decoding.close());
    if (this.#encoder) {
      await attempt(() => this.#encoder!.close());
      this.opts.counters.codecs--;
    }
    await attempt(() => this.#converter.close());
    await attempt(() => this.#generator.close());
    this.#log.info({ reason: this.#closeReason, errors: errors.length }, 'session closed');
    this.opts.events.closed(this.#closeReason ?? 'stopped');
    this.#emitStream({ state: 'offline', viewers: 0 });
    this.#streamListeners.clear();
    if (errors.length) throw asCycleStreamError(errors[0], CodecError);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

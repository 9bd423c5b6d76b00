/**
 * One live translation: frames from the browser are decoded as they come, converted to RGB
 * at the processing size, and handed to a latest-frame-wins scheduler; the model runs on the
 * newest frame, the temporal stage smooths it, and the result is scaled back to stream size,
 * encoded and sent. Owns its decoder, encoder, converter, generator and peer connection.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createRgbConverter, createVideoDecoder, createVideoEncoder, type DecodedFrame, type Frame, type VideoDecoder, type VideoEncoder } from '../codec/index.js';
import { assertModelId, type Generator, type InferenceHost } from '../inference/index.js';
import { createTemporalSmoother } from '../temporal/index.js';
import { FrameTranslator } from '../translate/index.js';
import type { EncodedVideoFrame, PeerSession, VideoCodecName } from '../webrtc/index.js';
import { VideoFanout, ViewerSet, type CreateViewerPeer } from '../streams/index.js';
import type { Backend, CloseReason, SessionStats, StreamSource, StreamStateEvent } from '../signaling/index.js';
import type { SessionEvents } from '../signaling/index.js';
import { BadRequestError, ClosedError, CodecError, ModelLoadError, asCycleStreamError } from '../shared/errors.js';
import { fitWithin, processingSize, type RgbImage } from '../shared/image.js';
import { RgbPool } from '../shared/rgb-pool.js';
import { LatestFrameScheduler } from './scheduler.js';
import { SlidingWindow } from './window.js';

export type SessionConfig = Pick<Config, 'maxInputWidthPx' | 'maxInputHeightPx' | 'outputBitrateKbps'>;

/** Shared with the manager so /api/health can prove that closed sessions freed their codecs and peers. */
export interface ResourceCounters {
  codecs: number;
  /** Peer connections, publishers' and viewers'. */
  peers: number;
}

interface Job {
  img: RgbImage;
  receivedAtMs: number;
  streamWidth: number;
  streamHeight: number;
}

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
  #decoder: VideoDecoder | null = null;
  #encoder: VideoEncoder | null = null;
  readonly #converter = createRgbConverter();
  readonly #temporal;
  readonly #scheduler: LatestFrameScheduler<Job, void>;
  /** Frames cycle through it: one decoding, one pending, one in the model, one finishing. */
  readonly #frames = new RgbPool(5);
  #decodeChain: Promise<void> = Promise.resolve();
  #decodeQueued = 0;
  #running: Promise<void> = Promise.resolve();
  readonly #translator: FrameTranslator<number>;
  #forceKeyframe = true;
  #closing: Promise<void> | null = null;
  #closeReason: CloseReason | null = null;
  #switching: Promise<unknown> = Promise.resolve();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #statsTimer: NodeJS.Timeout;
  readonly #t0 = Date.now();
  readonly #fpsIn = new SlidingWindow();
  readonly #fpsOut = new SlidingWindow();
  readonly #inferenceMs = new SlidingWindow();
  readonly #latencyMs = new SlidingWindow();
  #inputSize = { width: 0, height: 0 };
  #procSize = { width: 0, height: 0 };
  #lastPtsMs = -1;
  readonly startedAt = new Date();
  readonly #fanout: VideoFanout;
  readonly #viewers: ViewerSet;
  readonly #streamListeners = new Set<(e: StreamStateEvent) => void>();
  #framesEncoded = 0;
  #outputSize = { width: 0, height: 0 };

  constructor(private readonly opts: LiveSessionOptions) {
    this.id = opts.id;
    this.#generator = opts.generator;
    this.#smoothing = opts.smoothing;
    this.#shortSidePx = opts.processingShortSidePx;
    this.#temporal = createTemporalSmoother({ strength: opts.smoothing });
    this.#translator = new FrameTranslator<number>({
      temporal: this.#temporal,
      converter: this.#converter,
      encode: (yuv, receivedAtMs) => this.#encodeAndSend(yuv, receivedAtMs),
      onError: (err) => this.#log.warn({ err }, 'encode failed'),
    });
    this.#scheduler = new LatestFrameScheduler<Job, void>({
      process: (job) => this.#translate(job),
      onDrop: (job) => this.#frames.release(job.img),
      onError: (err) => this.#log.warn({ err }, 'frame failed'),
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
    // Decoding keeps up easily (about 1 ms a frame); this bound only guards against a stalled decoder.
    if (this.#decodeQueued > 30) {
      this.opts.peer.requestKeyframe('backpressure');
      return;
    }
    this.#decodeQueued++;
    this.#decodeChain = this.#decodeChain.then(async () => {
      this.#decodeQueued--;
      if (this.#closing) return;
      await this.#decode(f);
    });
  }

  async #decode(f: EncodedVideoFrame): Promise<void> {
    if (!this.#decoder || this.#decoder.codec !== f.codec) {
      await this.#decoder?.close();
      if (this.#decoder) this.opts.counters.codecs--;
      this.#decoder = createVideoDecoder({ codec: f.codec });
      this.opts.counters.codecs++;
    }
    let frames: DecodedFrame[];
    try {
      frames = await this.#decoder.decode(f.data, { keyframe: f.keyframe, ptsMs: f.receivedAtMs });
    } catch (err) {
      if (err instanceof CodecError) {
        this.opts.peer.requestKeyframe('decode-error');
        return;
      }
      throw err;
    }
    for (const d of frames) {
      if (d.corrupt) this.opts.peer.requestKeyframe('decode-error');
      this.#fpsIn.add(1, Date.now());
      // Nobody watching (a WHIP stream before its first viewer): decode to keep the reference
      // frames, but leave the model and the encoder idle.
      if (this.#fanout.size === 0) continue;
      const stream = fitWithin(d.width, d.height, this.opts.config.maxInputWidthPx, this.opts.config.maxInputHeightPx);
      const proc = processingSize(stream.width, stream.height, this.#shortSidePx, this.#generator.manifest.input.sizeMultiple);
      this.#inputSize = { width: d.width, height: d.height };
      const img = this.#frames.take(proc.width, proc.height);
      this.#converter.toRgb(d.frame, proc.width, proc.height, img);
      this.#scheduler.push({ img, receivedAtMs: f.receivedAtMs, streamWidth: stream.width, streamHeight: stream.height });
    }
  }

  /** The model now; smoothing, scaling and encoding of this frame overlap the next frame's model run. */
  #translate(job: Job): Promise<void> {
    const gen = this.#generator;
    this.#procSize = { width: job.img.width, height: job.img.height };
    const run = this.#translator
      .translate(gen, {
        img: job.img,
        streamWidth: job.streamWidth,
        streamHeight: job.streamHeight,
        meta: job.receivedAtMs,
        release: () => this.#frames.release(job.img),
      })
      .then(() => this.#inferenceMs.add(gen.stats().lastInferenceMs, Date.now()));
    this.#running = run.catch(() => {});
    return run;
  }

  async #encodeAndSend(yuv: Frame, receivedAtMs: number): Promise<void> {
    if (this.#closing) return;
    if (!this.#encoder) {
      this.#encoder = createVideoEncoder({
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
    // Encoded once, packetized once, forwarded to the publisher (when it takes video back) and every viewer.
    for (const p of packets) this.#fanout.write({ data: p.data, keyframe: p.keyframe, ptsMs: p.ptsMs });
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
      fpsIn: this.#fpsIn.rate(now),
      fpsOut: this.#fpsOut.rate(now),
      inferenceMs: round1(this.#inferenceMs.median(now)),
      serverLatencyMs: round1(this.#latencyMs.median(now)),
      droppedFrames: this.#scheduler.stats().dropped,
      inputWidth: this.#inputSize.width,
      inputHeight: this.#inputSize.height,
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
    await this.#scheduler.close();
    await this.#translator.flush();
    await this.#decodeChain.catch(() => {});
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
    if (this.#decoder) {
      await attempt(() => this.#decoder!.close());
      this.opts.counters.codecs--;
    }
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

/**
 * The receiving half of a live session: encoded frames from the peer pass the size gate, are
 * decoded in order and converted to RGB at the processing size. Every failure ends in
 * `onError`, which closes the session; a frame refused by the gate is never decoded.
 */
import {
  createRgbConverter,
  createVideoDecoder,
  createVideoEncoder,
  type DecodedFrame,
  type RgbConverter,
  type VideoDecoder,
  type VideoDecoderOptions,
  type VideoEncoder,
  type VideoEncoderOptions,
} from '../codec/index.js';
import type { EncodedVideoFrame } from '../webrtc/index.js';
import { CodecError } from '../shared/errors.js';
import { fitWithin, processingSize, type RgbImage } from '../shared/image.js';
import { RgbPool } from '../shared/rgb-pool.js';
import { FrameSizeGate, type GateVerdict, type InputSizeLimits } from './frame-size.js';
import { SlidingWindow } from './window.js';

/** The codec factories a session uses; tests wrap them to inject failures at each stage. */
export interface LiveCodecs {
  createDecoder(options: VideoDecoderOptions): VideoDecoder;
  createEncoder(options: VideoEncoderOptions): VideoEncoder;
  createConverter(): RgbConverter;
}

export const FFMPEG_CODECS: LiveCodecs = Object.freeze({
  createDecoder: createVideoDecoder,
  createEncoder: createVideoEncoder,
  createConverter: createRgbConverter,
});

/** Shared with the manager so /api/health can prove that closed sessions freed their codecs and peers. */
export interface ResourceCounters {
  codecs: number;
  /** Peer connections, publishers' and viewers'. */
  peers: number;
}

export interface DecodedPicture {
  img: RgbImage;
  receivedAtMs: number;
  streamWidth: number;
  streamHeight: number;
}

export type LiveStage = 'decode' | 'toRgb' | 'model' | 'encode' | 'send' | 'receive';

export interface DecodeStageOptions {
  createDecoder: LiveCodecs['createDecoder'];
  /** Owned by the session, which also uses it for the way back (fromRgb). */
  converter: RgbConverter;
  counters: ResourceCounters;
  limits: InputSizeLimits;
  requestKeyframe(reason: 'decode-error' | 'backpressure'): void;
  /** The processing size for a picture, or null when nobody watches: decode only, to keep the references. */
  target(width: number, height: number): { stream: { width: number; height: number }; proc: { width: number; height: number } } | null;
  onPicture(picture: DecodedPicture): void;
  /** A frame the gate refused before decoding. */
  onRefused(verdict: Exclude<GateVerdict, { pass: true }>): void;
  onError(stage: LiveStage, err: unknown): void;
}

/** Decoding keeps up easily (about 1 ms a frame); this bound only guards against a stalled decoder. */
const MAX_QUEUED_FRAMES = 30;

export class DecodeStage {
  readonly fpsIn = new SlidingWindow();
  inputSize: { width: number; height: number } = { width: 0, height: 0 };
  readonly #opts: DecodeStageOptions;
  readonly #gate: FrameSizeGate;
  #decoder: VideoDecoder | null = null;
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #stopped = false;
  /** One decoding, one pending, one in the model, one finishing (and a spare). */
  readonly #pool = new RgbPool(5);

  constructor(opts: DecodeStageOptions) {
    this.#opts = opts;
    this.#gate = new FrameSizeGate(opts.limits);
  }

  /** Synchronous, from the network path: gate, then queue for decoding. */
  push(f: EncodedVideoFrame): void {
    if (this.#stopped) return;
    const verdict = this.#gate.admit(f);
    if (!verdict.pass) {
      this.#opts.onRefused(verdict);
      return;
    }
    if (this.#queued > MAX_QUEUED_FRAMES) {
      this.#opts.requestKeyframe('backpressure');
      return;
    }
    this.#queued++;
    this.#chain = this.#chain
      .then(async () => {
        this.#queued--;
        if (!this.#stopped) await this.#decode(f);
      })
      .catch((err: unknown) => {
        this.#stopped = true;
        this.#opts.onError('decode', err);
      });
  }

  async #decode(f: EncodedVideoFrame): Promise<void> {
    if (!this.#decoder || this.#decoder.codec !== f.codec) {
      await this.#closeDecoder();
      this.#decoder = this.#opts.createDecoder({ codec: f.codec });
      this.#opts.counters.codecs++;
    }
    let frames: DecodedFrame[];
    try {
      frames = await this.#decoder.decode(f.data, { keyframe: f.keyframe, ptsMs: f.receivedAtMs });
    } catch (err) {
      if (err instanceof CodecError) {
        this.#opts.requestKeyframe('decode-error');
        return;
      }
      throw err;
    }
    for (const d of frames) {
      if (this.#stopped) return;
      if (d.corrupt) this.#opts.requestKeyframe('decode-error');
      this.fpsIn.add(1, Date.now());
      this.inputSize = { width: d.width, height: d.height };
      const target = this.#opts.target(d.width, d.height);
      if (!target) continue;
      const img = this.#pool.take(target.proc.width, target.proc.height);
      try {
        this.#opts.converter.toRgb(d.frame, target.proc.width, target.proc.height, img);
      } catch (err) {
        this.#stopped = true;
        this.#opts.onError('toRgb', err);
        return;
      }
      this.#opts.onPicture({ img, receivedAtMs: f.receivedAtMs, streamWidth: target.stream.width, streamHeight: target.stream.height });
    }
  }

  release(img: RgbImage): void {
    this.#pool.release(img);
  }

  async #closeDecoder(): Promise<void> {
    const decoder = this.#decoder;
    if (!decoder) return;
    this.#decoder = null;
    this.#opts.counters.codecs--;
    await decoder.close();
  }

  /** Takes no more frames; the one in flight finishes. */
  stop(): void {
    this.#stopped = true;
  }

  /** Stops taking frames, lets the one in flight finish, and closes the decoder. Idempotent. */
  async close(): Promise<void> {
    this.stop();
    await this.#chain;
    await this.#closeDecoder();
  }
}

/** The processing size for a decoded picture, for `DecodeStageOptions.target`. */
export function processingTarget(
  width: number,
  height: number,
  limits: InputSizeLimits,
  shortSidePx: number,
  sizeMultiple: number,
): { stream: { width: number; height: number }; proc: { width: number; height: number } } {
  const stream = fitWithin(width, height, limits.maxWidthPx, limits.maxHeightPx);
  return { stream, proc: processingSize(stream.width, stream.height, shortSidePx, sizeMultiple) };
}

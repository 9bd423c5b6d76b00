/**
 * The input side of a live session: encoded frames from the publisher through the size gate
 * and the decoder (DecodeStage) into a latest-frame-wins scheduler that hands the newest
 * picture to the model. Frames the gate refuses are reported to the client, once a second.
 */
import type { Logger } from 'pino';
import { FrameTooLargeError, publicError, type PublicError } from '../shared/errors.js';
import type { EncodedVideoFrame } from '../webrtc/index.js';
import { RateLimiter } from '../webrtc/rate-limiter.js';
import { DecodeStage, type DecodeStageOptions, type DecodedPicture, type LiveStage } from './decode-stage.js';
import type { GateVerdict } from './frame-size.js';
import type { KeyframePolicy } from './keyframes.js';
import { LatestFrameScheduler } from './scheduler.js';

export interface LiveIngestOptions extends Pick<DecodeStageOptions, 'createDecoder' | 'converter' | 'counters' | 'limits' | 'target'> {
  keyframes: KeyframePolicy;
  /** Runs the model on one picture; the scheduler keeps only the newest while it runs. */
  process: (picture: DecodedPicture) => Promise<void>;
  /** A frame was refused before decoding; the client hears it. */
  report: (err: PublicError) => void;
  onError: (stage: LiveStage, err: unknown) => void;
  logger: Logger;
}

export class LiveIngest {
  readonly #decoding: DecodeStage;
  readonly #scheduler: LatestFrameScheduler<DecodedPicture, void>;
  /** Refused frames come in bursts (every key frame of a too-large stream); tell the client once a second. */
  readonly #refusalReports = new RateLimiter(1000);
  #stopped = false;

  constructor(private readonly opts: LiveIngestOptions) {
    this.#scheduler = new LatestFrameScheduler<DecodedPicture, void>({
      process: opts.process,
      onDrop: (picture) => this.release(picture),
      onError: (err) => opts.onError('model', err),
    });
    this.#decoding = new DecodeStage({
      createDecoder: opts.createDecoder,
      converter: opts.converter,
      counters: opts.counters,
      limits: opts.limits,
      requestKeyframe: (reason) => opts.keyframes.requestInput(reason),
      target: opts.target,
      onPicture: (picture) => this.#scheduler.push(picture),
      onRefused: (verdict) => this.#refused(verdict),
      onError: opts.onError,
    });
  }

  /** Synchronous, from the network path. */
  push(frame: EncodedVideoFrame): void {
    if (this.#stopped) return;
    try {
      this.#decoding.push(frame);
    } catch (err) {
      this.opts.onError('receive', err);
    }
  }

  /** The picture's buffer goes back to the pool once the model and the way back are done with it. */
  release(picture: DecodedPicture): void {
    this.#decoding.release(picture.img);
  }

  get fpsIn(): DecodeStage['fpsIn'] {
    return this.#decoding.fpsIn;
  }

  get inputSize(): { width: number; height: number } {
    return this.#decoding.inputSize;
  }

  get droppedFrames(): number {
    return this.#scheduler.stats().dropped;
  }

  /** No more frames in; waits for the picture in the model. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#decoding.stop();
    await this.#scheduler.close();
  }

  /** Frees the decoder (after stop()). */
  close(): Promise<void> {
    return this.#decoding.close();
  }

  #refused(verdict: Exclude<GateVerdict, { pass: true }>): void {
    if (verdict.reason === 'waiting' || !this.#refusalReports.tryAcquire()) return;
    const { maxWidthPx: w, maxHeightPx: h } = this.opts.limits;
    const err =
      verdict.reason === 'too-large'
        ? new FrameTooLargeError(
            `the camera sends ${verdict.size.width}x${verdict.size.height}; the limit is ${w}x${h} (MAX_INPUT_WIDTH_PX x MAX_INPUT_HEIGHT_PX, either way round): frames dropped until a smaller key frame`,
          )
        : verdict.error;
    this.opts.logger.warn({ reason: verdict.reason, err: err.message }, 'frame refused before decoding');
    this.opts.report(publicError(err));
  }
}

import type { VideoCodecName } from '../contract/index.js';
import { Codec, CodecContext, Packet, Rational, type Frame } from 'node-av';
import {
  AV_PICTURE_TYPE_I,
  AV_PICTURE_TYPE_NONE,
  AV_PIX_FMT_YUV420P,
  FF_ENCODER_LIBVPX_VP8,
  FF_ENCODER_LIBX264,
} from 'node-av/constants';
import { ClosedError, CodecError, UnsupportedCodecError } from '../shared/errors.js';
import type { Closable } from '../shared/image.js';
import { AVERROR_EAGAIN, AVERROR_EOF, codecFailure, createSerialQueue } from './ffmpeg.js';

export type EncoderCodecName = VideoCodecName;

export interface VideoEncoderOptions {
  codec: EncoderCodecName;
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  /** Longest gap between keyframes; PLIs force extra ones. Default 10 s worth of frames. */
  keyframeIntervalFrames?: number;
  /** Default 1: libvpx ran about 6x slower with 2 threads on the 2-core target. */
  threadCount?: number;
}

export interface EncodedPacket {
  readonly data: Buffer;
  readonly keyframe: boolean;
  readonly ptsMs: number;
}

export interface EncodeOptions {
  /** Force this frame to be a keyframe (e.g. the receiver sent a PLI). */
  keyframe?: boolean;
  /** Presentation time. Must increase; a non-increasing value is bumped by 1 ms. */
  ptsMs?: number;
}

export interface VideoEncoderStats {
  readonly codec: EncoderCodecName;
  readonly width: number;
  readonly height: number;
  readonly framesIn: number;
  readonly packetsOut: number;
  readonly bytesOut: number;
  readonly keyframesOut: number;
  readonly forcedKeyframes: number;
  /** Times the encoder was rebuilt because the frame size changed. */
  readonly reopens: number;
}

export interface VideoEncoder extends Closable {
  readonly codec: EncoderCodecName;
  /**
   * Encodes one yuv420p frame. The encoder follows the frame's size: when it differs
   * from the current one the encoder is rebuilt internally and the next packet is a
   * keyframe, so callers need not recreate it on resolution changes.
   * The frame's pts and pictType are overwritten.
   */
  encode(frame: Frame, opts?: EncodeOptions): Promise<EncodedPacket[]>;
  /** Returns packets still buffered (none with the realtime settings used here). */
  flush(): Promise<EncodedPacket[]>;
  stats(): VideoEncoderStats;
}

const ENCODERS = { vp8: FF_ENCODER_LIBVPX_VP8, h264: FF_ENCODER_LIBX264 } as const;

/**
 * Realtime private options. libvpx: no lookahead, no alt-ref frames, error-resilient
 * partitions, fastest speed; x264: no lookahead/B-frames, SPS/PPS on every keyframe so a
 * receiver that joins late or lost a keyframe can still start decoding.
 */
const PRIVATE_OPTIONS: Record<EncoderCodecName, ReadonlyArray<readonly [string, string]>> = {
  vp8: [
    ['deadline', 'realtime'],
    ['cpu-used', '8'],
    ['lag-in-frames', '0'],
    ['error-resilient', '1'],
    ['auto-alt-ref', '0'],
  ],
  h264: [
    ['preset', 'ultrafast'],
    ['tune', 'zerolatency'],
    ['profile', 'baseline'],
    ['forced-idr', '1'],
    ['x264-params', 'repeat-headers=1'],
  ],
};

function validate(options: VideoEncoderOptions): void {
  const { width, height, fps, bitrateKbps } = options;
  if (!ENCODERS[options.codec]) throw new UnsupportedCodecError(`no encoder for codec ${JSON.stringify(options.codec)}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2 || width % 2 || height % 2) {
    throw new Error(`encoder size ${width}x${height}: need even positive integers (yuv420p)`);
  }
  if (!(fps > 0 && fps <= 240)) throw new Error(`encoder fps ${fps} out of range`);
  if (!(bitrateKbps >= 16 && bitrateKbps <= 100_000)) throw new Error(`encoder bitrateKbps ${bitrateKbps} out of range`);
}

function openContext(options: VideoEncoderOptions, width: number, height: number): CodecContext {
  const codecName = options.codec;
  const codec = Codec.findEncoderByName(ENCODERS[codecName]);
  if (!codec) throw new UnsupportedCodecError(`FFmpeg build has no ${String(ENCODERS[codecName])} encoder`);
  const fps = Math.round(options.fps);
  const bitsPerSecond = BigInt(Math.round(options.bitrateKbps * 1000));
  const ctx = new CodecContext();
  ctx.allocContext3(codec);
  ctx.width = width;
  ctx.height = height;
  ctx.pixelFormat = AV_PIX_FMT_YUV420P;
  // Millisecond timestamps straight from the caller; framerate gives the per-frame
  // duration rate control needs.
  ctx.timeBase = new Rational(1, 1000);
  ctx.framerate = new Rational(fps, 1);
  ctx.gopSize = options.keyframeIntervalFrames ?? fps * 10;
  ctx.maxBFrames = 0;
  ctx.threadCount = options.threadCount ?? 1;
  // min = max = target makes libvpx pick CBR; for x264 max + bufsize is a VBV cap.
  // A one-second buffer keeps single frames from blowing past the link's rate.
  ctx.bitRate = bitsPerSecond;
  ctx.rcMaxRate = bitsPerSecond;
  ctx.rcMinRate = codecName === 'vp8' ? bitsPerSecond : 0n;
  ctx.rcBufferSize = Number(bitsPerSecond);
  for (const [key, value] of PRIVATE_OPTIONS[codecName]) {
    const ret = ctx.setOption(key, value);
    if (ret < 0) {
      ctx.freeContext();
      throw codecFailure(`${codecName} encoder option ${key}=${value}`, ret);
    }
  }
  // Options go in through setOption: open2Sync(codec, dictionary) double-frees in node-av 6.1.1.
  const ret = ctx.open2Sync(codec, null);
  if (ret < 0) {
    ctx.freeContext();
    throw codecFailure(`open ${codecName} encoder ${width}x${height}`, ret);
  }
  return ctx;
}

export function createVideoEncoder(options: VideoEncoderOptions): VideoEncoder {
  validate(options);
  const codecName = options.codec;
  const frameMs = 1000 / options.fps;
  let width = options.width;
  let height = options.height;
  let ctx = openContext(options, width, height);
  const packet = new Packet();
  packet.alloc();
  const serial = createSerialQueue();
  let closed = false;
  let lastPtsMs = -Infinity;
  let framesIn = 0;
  let packetsOut = 0;
  let bytesOut = 0;
  let keyframesOut = 0;
  let forcedKeyframes = 0;
  let reopens = 0;

  function assertOpen(): void {
    if (closed) throw new ClosedError(`${codecName} encoder is closed`);
  }

  async function receiveAll(out: EncodedPacket[]): Promise<void> {
    for (;;) {
      const ret = await ctx.receivePacket(packet);
      if (ret === AVERROR_EAGAIN || ret === AVERROR_EOF) return;
      if (ret < 0) throw codecFailure(`${codecName} encode`, ret);
      // node-av's packet.data getter already returns a copy, safe to keep after unref.
      const data = packet.data;
      const keyframe = packet.isKeyframe;
      const ptsMs = Number(packet.pts);
      packet.unref();
      if (!data) continue;
      packetsOut++;
      bytesOut += data.byteLength;
      if (keyframe) keyframesOut++;
      out.push({ data, keyframe, ptsMs });
    }
  }

  async function drain(out: EncodedPacket[]): Promise<void> {
    const ret = await ctx.sendFrame(null);
    if (ret < 0 && ret !== AVERROR_EOF) throw codecFailure(`${codecName} flush`, ret);
    await receiveAll(out);
  }

  async function encodeNow(frame: Frame, opts: EncodeOptions): Promise<EncodedPacket[]> {
    assertOpen();
    if (frame.format !== AV_PIX_FMT_YUV420P) throw new CodecError(`${codecName} encoder needs yuv420p frames, got format ${frame.format}`);
    const out: EncodedPacket[] = [];
    if (frame.width !== width || frame.height !== height) {
      validate({ ...options, width: frame.width, height: frame.height });
      await drain(out);
      const next = openContext(options, frame.width, frame.height);
      ctx.freeContext();
      ctx = next;
      width = frame.width;
      height = frame.height;
      reopens++;
    }
    let ptsMs = Math.round(opts.ptsMs ?? (lastPtsMs === -Infinity ? 0 : lastPtsMs + frameMs));
    if (ptsMs <= lastPtsMs) ptsMs = Math.floor(lastPtsMs) + 1;
    lastPtsMs = ptsMs;
    frame.pts = BigInt(ptsMs);
    frame.pictType = opts.keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    if (opts.keyframe) forcedKeyframes++;
    framesIn++;
    const ret = await ctx.sendFrame(frame);
    if (ret < 0) throw codecFailure(`${codecName} encode`, ret);
    await receiveAll(out);
    return out;
  }

  async function flushNow(): Promise<EncodedPacket[]> {
    assertOpen();
    const out: EncodedPacket[] = [];
    await drain(out);
    // A drained encoder accepts no more frames; start a fresh one at the same size.
    const next = openContext(options, width, height);
    ctx.freeContext();
    ctx = next;
    return out;
  }

  async function closeNow(): Promise<void> {
    if (closed) return;
    closed = true;
    packet.free();
    ctx.freeContext();
  }

  return {
    codec: codecName,
    encode: (frame, opts = {}) => serial(() => encodeNow(frame, opts)),
    flush: () => serial(flushNow),
    stats: () => ({
      codec: codecName,
      width,
      height,
      framesIn,
      packetsOut,
      bytesOut,
      keyframesOut,
      forcedKeyframes,
      reopens,
    }),
    close: () => serial(closeNow),
    [Symbol.asyncDispose]: () => serial(closeNow),
  };
}

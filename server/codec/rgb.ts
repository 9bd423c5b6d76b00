import { Frame, SoftwareScaleContext } from 'node-av';
import {
  AV_PIX_FMT_RGB24,
  AV_PIX_FMT_YUV420P,
  SWS_ACCURATE_RND,
  SWS_BICUBIC,
  SWS_BILINEAR,
  type AVPixelFormat,
  type SwsFlags,
} from 'node-av/constants';
import { ClosedError, CodecError } from '../shared/errors.js';
import type { Closable, RgbImage } from '../shared/image.js';
import { asBuffer, check } from './ffmpeg.js';

export interface RgbConverterStats {
  readonly toRgbCalls: number;
  readonly fromRgbCalls: number;
  /** swscale contexts built; grows only when a size or pixel format changes. */
  readonly contextsCreated: number;
}

export interface RgbConverter extends Closable {
  /**
   * Scales and converts a decoded frame (any software pixel format) to packed RGB24
   * at width x height in one swscale call. Writes into `out` when given (it must be
   * that size); otherwise into a buffer the converter owns and reuses on the next call.
   */
  toRgb(frame: Frame, width: number, height: number, out?: RgbImage): RgbImage;
  /**
   * Scales an RGB image to a yuv420p frame of width x height for the encoder
   * (bicubic, since this is where processing resolution is scaled back up). The frame
   * is owned by the converter and reused on the next call.
   */
  fromRgb(img: RgbImage, width: number, height: number): Frame;
  stats(): RgbConverterStats;
}

/** Downscaling camera frames: bilinear is the cheapest filter that still averages. */
const TO_RGB_FLAGS = SWS_BILINEAR;
/** Upscaling model output back to stream size is what viewers see: bicubic. */
const FROM_RGB_FLAGS = (SWS_BICUBIC | SWS_ACCURATE_RND) as SwsFlags;

interface CachedScaler {
  sws: SoftwareScaleContext;
  key: string;
}

function assertSize(what: string, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`${what}: invalid size ${width}x${height}`);
  }
}

export function createRgbConverter(): RgbConverter {
  let closed = false;
  let toScaler: CachedScaler | null = null;
  let fromScaler: CachedScaler | null = null;
  let ownRgb: RgbImage | null = null;
  let yuvFrame: Frame | null = null;
  // Buffer views over callers' Uint8Arrays, kept so a reused image costs no view per frame.
  let lastSrc: Uint8Array | null = null;
  let lastSrcView: Buffer | null = null;
  let lastOut: Uint8Array | null = null;
  let lastOutView: Buffer | null = null;
  let toRgbCalls = 0;
  let fromRgbCalls = 0;
  let contextsCreated = 0;

  function assertOpen(): void {
    if (closed) throw new ClosedError('RGB converter is closed');
  }

  function scaler(
    cached: CachedScaler | null,
    srcW: number,
    srcH: number,
    srcFmt: AVPixelFormat,
    dstW: number,
    dstH: number,
    dstFmt: AVPixelFormat,
    flags: SwsFlags,
  ): CachedScaler {
    const key = `${srcW}x${srcH}:${srcFmt}>${dstW}x${dstH}:${dstFmt}`;
    if (cached && cached.key === key) return cached;
    cached?.sws.freeContext();
    const sws = new SoftwareScaleContext();
    sws.getContext(srcW, srcH, srcFmt, dstW, dstH, dstFmt, flags);
    const ret = sws.initContext();
    if (ret < 0) {
      sws.freeContext();
      check(`swscale ${key}`, ret);
    }
    contextsCreated++;
    return { sws, key };
  }

  function viewOf(data: Uint8Array, which: 'src' | 'out'): Buffer {
    if (Buffer.isBuffer(data)) return data;
    if (which === 'src') {
      if (lastSrc !== data) {
        lastSrc = data;
        lastSrcView = asBuffer(data);
      }
      return lastSrcView as Buffer;
    }
    if (lastOut !== data) {
      lastOut = data;
      lastOutView = asBuffer(data);
    }
    return lastOutView as Buffer;
  }

  function toRgb(frame: Frame, width: number, height: number, out?: RgbImage): RgbImage {
    assertOpen();
    assertSize('toRgb', width, height);
    const planes = frame.data;
    if (!planes || frame.width <= 0 || frame.height <= 0) throw new CodecError('toRgb: frame holds no picture');
    let target: RgbImage;
    if (out) {
      if (out.width !== width || out.height !== height || out.data.byteLength !== width * height * 3) {
        throw new Error(`toRgb: out image is ${out.width}x${out.height}, expected ${width}x${height}`);
      }
      target = out;
    } else {
      if (!ownRgb || ownRgb.width !== width || ownRgb.height !== height) {
        ownRgb = { width, height, data: Buffer.alloc(width * height * 3) };
      }
      target = ownRgb;
    }
    toScaler = scaler(
      toScaler,
      frame.width,
      frame.height,
      frame.format as AVPixelFormat,
      width,
      height,
      AV_PIX_FMT_RGB24,
      TO_RGB_FLAGS,
    );
    const ret = toScaler.sws.scaleSync(planes, frame.linesize, 0, frame.height, [viewOf(target.data, 'out')], [width * 3]);
    check('toRgb scale', ret);
    toRgbCalls++;
    return target;
  }

  function fromRgb(img: RgbImage, width: number, height: number): Frame {
    assertOpen();
    assertSize('fromRgb', width, height);
    assertSize('fromRgb source', img.width, img.height);
    if (img.data.byteLength !== img.width * img.height * 3) {
      throw new Error(`fromRgb: ${img.width}x${img.height} image has ${img.data.byteLength} bytes`);
    }
    if (!yuvFrame || yuvFrame.width !== width || yuvFrame.height !== height) {
      yuvFrame?.free();
      const f = new Frame();
      f.alloc();
      f.width = width;
      f.height = height;
      f.format = AV_PIX_FMT_YUV420P;
      const ret = f.allocBuffer();
      if (ret < 0) {
        f.free();
        check('fromRgb allocBuffer', ret);
      }
      yuvFrame = f;
    } else {
      // The encoder may still hold a reference to last frame's buffer; copy-on-write
      // rather than scribble over a picture it has not finished with.
      check('fromRgb makeWritable', yuvFrame.makeWritable());
    }
    fromScaler = scaler(
      fromScaler,
      img.width,
      img.height,
      AV_PIX_FMT_RGB24,
      width,
      height,
      AV_PIX_FMT_YUV420P,
      FROM_RGB_FLAGS,
    );
    const planes = yuvFrame.data;
    if (!planes) throw new CodecError('fromRgb: frame has no planes');
    const ret = fromScaler.sws.scaleSync([viewOf(img.data, 'src')], [img.width * 3], 0, img.height, planes, yuvFrame.linesize);
    check('fromRgb scale', ret);
    fromRgbCalls++;
    return yuvFrame;
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    toScaler?.sws.freeContext();
    fromScaler?.sws.freeContext();
    yuvFrame?.free();
    toScaler = fromScaler = null;
    yuvFrame = null;
    ownRgb = null;
    lastSrc = lastOut = null;
    lastSrcView = lastOutView = null;
  }

  return {
    toRgb,
    fromRgb,
    stats: () => ({ toRgbCalls, fromRgbCalls, contextsCreated }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

import type { VideoCodecName } from '../contract/index.js';
import { Codec, CodecContext, Frame, Packet } from 'node-av';
import {
  AV_CODEC_FLAG_LOW_DELAY,
  AV_CODEC_ID_H264,
  AV_CODEC_ID_HEVC,
  AV_CODEC_ID_MPEG4,
  AV_CODEC_ID_VP8,
  AV_CODEC_ID_VP9,
  AV_FRAME_FLAG_CORRUPT,
  AV_FRAME_FLAG_KEY,
  FF_THREAD_SLICE,
  type AVCodecID,
} from 'node-av/constants';
import { ClosedError, CodecError, UnsupportedCodecError } from '../shared/errors.js';
import type { Closable } from '../shared/image.js';
import { AVERROR_EAGAIN, AVERROR_EOF, AV_NOPTS_VALUE, asBuffer, check, codecFailure, createSerialQueue } from './ffmpeg.js';

/** vp8/h264 arrive over WebRTC; vp9, mpeg4 (Part 2) and hevc come from uploaded files. */
/** Live streams are VP8 or H.264; uploaded videos may also be VP9, MPEG-4 Part 2 or HEVC. */
export type DecoderCodecName = VideoCodecName | 'vp9' | 'mpeg4' | 'hevc';

export interface VideoDecoderOptions {
  codec: DecoderCodecName;
  /**
   * Decoder threads. 1 (default) adds no latency; more threads use slice threading
   * only, because frame threading delays output by threadCount - 1 frames.
   */
  threadCount?: number;
  /** Codec extradata (e.g. an avcC record for H.264 from an mp4); WebRTC streams need none. */
  extradata?: Buffer;
}

/**
 * One decoded picture. `frame` belongs to the decoder and is reused: it stays valid
 * only until the next decode()/flush()/close() call, so convert it (toRgb) first.
 */
export interface DecodedFrame {
  readonly frame: Frame;
  readonly width: number;
  readonly height: number;
  readonly ptsMs: number;
  readonly keyframe: boolean;
  /** FFmpeg concealed errors in this picture; the caller may want a keyframe. */
  readonly corrupt: boolean;
  /** True on the first frame and whenever the decoded size differs from the previous frame's. */
  readonly sizeChanged: boolean;
}

export interface VideoDecoderStats {
  readonly codec: DecoderCodecName;
  readonly packetsIn: number;
  readonly bytesIn: number;
  readonly framesOut: number;
  readonly errors: number;
  readonly corruptFrames: number;
  readonly sizeChanges: number;
  /** Size of the last decoded frame (0 before the first). */
  readonly width: number;
  readonly height: number;
}

export interface DecodeOptions {
  /** The transport says this is a keyframe (used only as a hint to FFmpeg). */
  keyframe?: boolean;
  /** Presentation time; carried through to the decoded frame. */
  ptsMs?: number;
}

export interface VideoDecoder extends Closable {
  readonly codec: DecoderCodecName;
  /** Decodes one complete encoded frame. Throws CodecError on corrupt input: request a keyframe. */
  decode(data: Uint8Array, opts?: DecodeOptions): Promise<DecodedFrame[]>;
  /** Drains frames still buffered in the decoder and resets it for a new stream. */
  flush(): Promise<DecodedFrame[]>;
  stats(): VideoDecoderStats;
}

const CODEC_IDS: Record<DecoderCodecName, AVCodecID> = {
  vp8: AV_CODEC_ID_VP8,
  h264: AV_CODEC_ID_H264,
  vp9: AV_CODEC_ID_VP9,
  mpeg4: AV_CODEC_ID_MPEG4,
  hevc: AV_CODEC_ID_HEVC,
};

export function createVideoDecoder(options: VideoDecoderOptions): VideoDecoder {
  const codecName = options.codec;
  const codecId = CODEC_IDS[codecName];
  if (codecId === undefined) throw new UnsupportedCodecError(`no decoder for codec ${JSON.stringify(codecName)}`);
  const codec = Codec.findDecoder(codecId);
  if (!codec) throw new UnsupportedCodecError(`FFmpeg build has no ${codecName} decoder`);

  const threadCount = options.threadCount ?? 1;
  const ctx = new CodecContext();
  ctx.allocContext3(codec);
  ctx.threadCount = threadCount;
  if (threadCount > 1) ctx.threadType = FF_THREAD_SLICE;
  ctx.setFlags(AV_CODEC_FLAG_LOW_DELAY);
  if (options.extradata) ctx.extraData = options.extradata;
  // open2Sync with a dictionary double-frees in node-av 6.1.1; no dictionary here.
  const openRet = ctx.open2Sync(codec, null);
  if (openRet < 0) {
    ctx.freeContext();
    throw codecFailure(`open ${codecName} decoder`, openRet);
  }

  const packet = new Packet();
  packet.alloc();
  // Frames are recycled across calls; a call that yields n frames uses frames[0..n).
  const frames: Frame[] = [];
  const serial = createSerialQueue();
  let closed = false;
  let lastWidth = 0;
  let lastHeight = 0;
  let packetsIn = 0;
  let bytesIn = 0;
  let framesOut = 0;
  let errors = 0;
  let corruptFrames = 0;
  let sizeChanges = 0;

  function assertOpen(): void {
    if (closed) throw new ClosedError(`${codecName} decoder is closed`);
  }

  function frameAt(i: number): Frame {
    let f = frames[i];
    if (!f) {
      f = new Frame();
      f.alloc();
      frames[i] = f;
    } else {
      f.unref();
    }
    return f;
  }

  async function receiveAll(out: DecodedFrame[], fallbackPtsMs: number): Promise<void> {
    for (;;) {
      const frame = frameAt(out.length);
      const ret = await ctx.receiveFrame(frame);
      if (ret === AVERROR_EAGAIN || ret === AVERROR_EOF) return;
      if (ret < 0) {
        errors++;
        throw codecFailure(`${codecName} decode`, ret);
      }
      const { width, height } = frame;
      const sizeChanged = width !== lastWidth || height !== lastHeight;
      if (sizeChanged) {
        sizeChanges++;
        lastWidth = width;
        lastHeight = height;
      }
      const corrupt = (frame.flags & AV_FRAME_FLAG_CORRUPT) !== 0 || frame.decodeErrorFlags !== 0;
      if (corrupt) corruptFrames++;
      const pts = frame.pts;
      framesOut++;
      out.push({
        frame,
        width,
        height,
        ptsMs: pts === AV_NOPTS_VALUE ? fallbackPtsMs : Number(pts),
        keyframe: (frame.flags & AV_FRAME_FLAG_KEY) !== 0,
        corrupt,
        sizeChanged,
      });
    }
  }

  async function decodeNow(data: Uint8Array, opts: DecodeOptions): Promise<DecodedFrame[]> {
    assertOpen();
    // An empty packet means "end of stream" to FFmpeg and would put the decoder into
    // draining mode; an empty payload is always a transport problem here.
    if (data.byteLength === 0) {
      errors++;
      throw new CodecError(`${codecName} decode: empty payload`);
    }
    const ptsMs = opts.ptsMs ?? packetsIn;
    packetsIn++;
    bytesIn += data.byteLength;
    packet.data = asBuffer(data);
    packet.pts = BigInt(Math.round(ptsMs));
    if (opts.keyframe) packet.isKeyframe = true;
    const out: DecodedFrame[] = [];
    try {
      let ret = await ctx.sendPacket(packet);
      if (ret === AVERROR_EAGAIN) {
        // Output is full: take what is ready, then the packet fits.
        await receiveAll(out, ptsMs);
        ret = await ctx.sendPacket(packet);
      }
      if (ret < 0) {
        errors++;
        throw codecFailure(`${codecName} decode`, ret);
      }
    } finally {
      packet.unref();
    }
    await receiveAll(out, ptsMs);
    return out;
  }

  async function flushNow(): Promise<DecodedFrame[]> {
    assertOpen();
    const out: DecodedFrame[] = [];
    check(`${codecName} flush`, await ctx.sendPacket(null));
    await receiveAll(out, packetsIn);
    ctx.flushBuffers();
    return out;
  }

  async function closeNow(): Promise<void> {
    if (closed) return;
    closed = true;
    for (const f of frames) f.free();
    frames.length = 0;
    packet.free();
    ctx.freeContext();
  }

  return {
    codec: codecName,
    decode: (data, opts = {}) => serial(() => decodeNow(data, opts)),
    flush: () => serial(flushNow),
    stats: () => ({
      codec: codecName,
      packetsIn,
      bytesIn,
      framesOut,
      errors,
      corruptFrames,
      sizeChanges,
      width: lastWidth,
      height: lastHeight,
    }),
    close: () => serial(closeNow),
    [Symbol.asyncDispose]: () => serial(closeNow),
  };
}

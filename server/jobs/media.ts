/**
 * Thin wrappers over node-av's low-level format API for reading an uploaded file and
 * writing the MP4 result. Low-level on purpose: node-av's high-level Demuxer reads ahead on
 * its own and spins on setImmediate while its queue is full, which on a slow generator
 * would burn a core for nothing; here one packet is read when the runner wants one.
 */
import { Codec, Dictionary, FFmpegError, FormatContext, IOContext, InputFormat, Packet, Rational, avGetCodecName, type IRational, type Stream } from 'node-av';
import {
  AVERROR_EOF,
  AVIO_FLAG_WRITE,
  AVMEDIA_TYPE_AUDIO,
  AVMEDIA_TYPE_VIDEO,
  AV_CODEC_ID_AAC,
  AV_CODEC_ID_AC3,
  AV_CODEC_ID_ALAC,
  AV_CODEC_ID_EAC3,
  AV_CODEC_ID_FLAC,
  AV_CODEC_ID_H264,
  AV_CODEC_ID_HEVC,
  AV_CODEC_ID_MP3,
  AV_CODEC_ID_MPEG4,
  AV_CODEC_ID_OPUS,
  AV_CODEC_ID_VP8,
  AV_CODEC_ID_VP9,
  AV_DISPOSITION_ATTACHED_PIC,
  AV_NOPTS_VALUE,
  type AVCodecID,
} from 'node-av/constants';
import type { DecoderCodecName } from '../codec/index.js';
import { CodecError, InvalidMediaError, UnsupportedMediaError } from '../shared/errors.js';
import { ACCEPTED_VIDEO_TEXT, sniffFile, type VideoContainer } from './formats.js';

export { AVERROR_EOF, AV_NOPTS_VALUE };

/** Video codecs the codec stage decodes, by FFmpeg codec id. */
const PIPELINE_DECODERS = new Map<AVCodecID, DecoderCodecName>([
  [AV_CODEC_ID_H264, 'h264'],
  [AV_CODEC_ID_VP8, 'vp8'],
  [AV_CODEC_ID_VP9, 'vp9'],
  [AV_CODEC_ID_MPEG4, 'mpeg4'],
  [AV_CODEC_ID_HEVC, 'hevc'],
]);

/**
 * Audio codecs the MP4 muxer stores as they are (and browsers play from MP4); anything else
 * is transcoded to AAC.
 */
const MP4_AUDIO = new Set<AVCodecID>([
  AV_CODEC_ID_AAC,
  AV_CODEC_ID_MP3,
  AV_CODEC_ID_AC3,
  AV_CODEC_ID_EAC3,
  AV_CODEC_ID_ALAC,
  AV_CODEC_ID_FLAC,
  AV_CODEC_ID_OPUS,
]);

export function pipelineDecoderFor(codecId: AVCodecID): DecoderCodecName | null {
  return PIPELINE_DECODERS.get(codecId) ?? null;
}

export function mp4CarriesAudio(codecId: AVCodecID): boolean {
  return MP4_AUDIO.has(codecId);
}

export function hasFfmpegDecoder(codecId: AVCodecID): boolean {
  return Codec.findDecoder(codecId) !== null;
}

export function codecName(codecId: AVCodecID): string {
  return avGetCodecName(codecId) ?? `codec#${codecId}`;
}

export function ffmpegText(ret: number): string {
  try {
    return FFmpegError.strerror(ret);
  } catch {
    return `error ${ret}`;
  }
}

/** Milliseconds per tick of a time base. */
export function msPerTick(tb: IRational): number {
  return (tb.num * 1000) / tb.den;
}

/** The first real video stream; cover art (an attached picture) is not video. */
export function findVideoStream(ctx: FormatContext): Stream | null {
  for (const s of ctx.streams) {
    if (s.codecpar.codecType === AVMEDIA_TYPE_VIDEO && (s.disposition & AV_DISPOSITION_ATTACHED_PIC) === 0) return s;
  }
  return null;
}

export function findAudioStream(ctx: FormatContext): Stream | null {
  return ctx.streams.find((s) => s.codecpar.codecType === AVMEDIA_TYPE_AUDIO && s.codecpar.sampleRate > 0) ?? null;
}

/**
 * Demuxer options for every input: only the `file` protocol, only the allowed demuxers (also for
 * any nested context a demuxer might open), and no MOV data references to other files.
 */
function demuxerOptions(demuxer: 'mov' | 'matroska'): Dictionary {
  const opts: Record<string, string> = {
    protocol_whitelist: 'file',
    format_whitelist: 'mov,mp4,m4a,3gp,3g2,mj2,matroska,webm',
  };
  if (demuxer === 'mov') {
    opts.enable_drefs = '0';
    opts.use_absolute_path = '0';
  }
  return Dictionary.fromObject(opts);
}

/**
 * Opens a video file for reading with the demuxer its own first bytes call for (formats.ts),
 * never one FFmpeg guesses, so the probe and the run read the same bytes the same way. A file
 * that is not an accepted container is an UnsupportedMediaError (415), one that is not media at
 * all an InvalidMediaError (400); FFmpeg never opens either.
 */
export async function openMediaInput(path: string, label = path): Promise<{ ctx: FormatContext; container: VideoContainer }> {
  const sniffed = await sniffFile(path);
  if (sniffed.kind === 'unknown') throw new InvalidMediaError(`${label} is not a video file (${ACCEPTED_VIDEO_TEXT} expected)`);
  if (sniffed.kind === 'image') {
    throw new UnsupportedMediaError(`${label} is a ${sniffed.info.container.toUpperCase()} image, not a video (${ACCEPTED_VIDEO_TEXT} expected)`);
  }
  if (sniffed.kind === 'refused') throw new UnsupportedMediaError(`${label} is ${sniffed.what}; only ${ACCEPTED_VIDEO_TEXT} videos are accepted`);
  const { demuxer } = sniffed.info;
  const format = InputFormat.findInputFormat(demuxer);
  if (!format) throw new CodecError(`this FFmpeg build has no ${demuxer} demuxer`);
  const ctx = new FormatContext();
  const opts = demuxerOptions(demuxer);
  let ret: number;
  try {
    ret = await ctx.openInput(path, format, opts);
  } finally {
    opts.free();
  }
  if (ret < 0) {
    await ctx.closeInput().catch(() => undefined);
    throw new InvalidMediaError(`${label} is not a video file FFmpeg can read (${ffmpegText(ret)})`);
  }
  const info = await ctx.findStreamInfo(null);
  if (info < 0) {
    await ctx.closeInput().catch(() => undefined);
    throw new InvalidMediaError(`${label}: could not read its streams (${ffmpegText(info)})`);
  }
  return { ctx, container: sniffed.info.container };
}

export async function closeMediaInput(ctx: FormatContext): Promise<void> {
  await ctx.closeInput();
}

/** One packet for the MP4 writer, timestamps in `timeBase`. */
export interface OutPacket {
  data: Buffer;
  pts: bigint;
  dts: bigint;
  duration: bigint;
  keyframe: boolean;
  timeBase: IRational;
}

interface OutStream {
  stream: Stream;
  ready: boolean;
}

/**
 * An MP4 being written: streams are declared first, the header goes out once every stream
 * has its codec parameters (an AAC encoder only knows its own after the first frame), and
 * packets that arrive before that wait in memory (a fraction of a second of audio).
 */
export class Mp4Writer {
  readonly #ctx: FormatContext;
  readonly #io: IOContext;
  readonly #streams: OutStream[] = [];
  readonly #pending: Packet[] = [];
  #headerWritten = false;
  #closed = false;
  // Audio (from the demux side) and video (from the encoder) are written from two async paths;
  // an AVFormatContext must see one call at a time.
  #tail: Promise<unknown> = Promise.resolve();

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  private constructor(ctx: FormatContext, io: IOContext) {
    this.#ctx = ctx;
    this.#io = io;
  }

  static async open(path: string): Promise<Mp4Writer> {
    const ctx = new FormatContext();
    const ret = ctx.allocOutputContext2(null, 'mp4', path);
    if (ret < 0) throw new CodecError(`mp4 output ${path}: ${ffmpegText(ret)}`);
    const io = new IOContext();
    const openRet = await io.open2(path, AVIO_FLAG_WRITE);
    if (openRet < 0) {
      ctx.freeContext();
      throw new CodecError(`cannot write ${path}: ${ffmpegText(openRet)}`);
    }
    ctx.pb = io;
    return new Mp4Writer(ctx, io);
  }

  /** H.264 from the codec stage; its SPS/PPS come in-band, and the MP4 muxer builds avcC from the first packet. */
  addH264Video(opts: { width: number; height: number; fps: number; sampleAspectRatio?: IRational }): number {
    const stream = this.#ctx.newStream(null);
    const par = stream.codecpar;
    par.codecType = AVMEDIA_TYPE_VIDEO;
    par.codecId = AV_CODEC_ID_H264;
    par.width = opts.width;
    par.height = opts.height;
    if (opts.sampleAspectRatio && opts.sampleAspectRatio.num > 0) {
      const sar = new Rational(opts.sampleAspectRatio.num, opts.sampleAspectRatio.den);
      par.sampleAspectRatio = sar;
      stream.sampleAspectRatio = sar;
    }
    stream.timeBase = new Rational(1, 1000);
    const fps = Math.max(1, Math.round(opts.fps * 1000));
    stream.avgFrameRate = new Rational(fps, 1000);
    this.#streams.push({ stream, ready: true });
    return stream.index;
  }

  /** Audio stored as it is. */
  addCopiedStream(input: Stream): number {
    const stream = this.#ctx.newStream(null);
    const ret = input.codecpar.copy(stream.codecpar);
    if (ret < 0) throw new CodecError(`copy audio parameters: ${ffmpegText(ret)}`);
    // The source container's tag may mean nothing in MP4; let the muxer pick its own.
    stream.codecpar.codecTag = 0;
    stream.timeBase = new Rational(input.timeBase.num, input.timeBase.den);
    this.#streams.push({ stream, ready: true });
    return stream.index;
  }

  /** A stream whose parameters arrive later through setParameters (an encoder opened on its first frame). */
  addLateStream(timeBase: IRational): number {
    const stream = this.#ctx.newStream(null);
    stream.timeBase = new Rational(timeBase.num, timeBase.den);
    this.#streams.push({ stream, ready: false });
    return stream.index;
  }

  setParameters(index: number, fill: (stream: Stream) => void): void {
    const s = this.#streams[index];
    if (!s) throw new CodecError(`no output stream ${index}`);
    fill(s.stream);
    s.ready = true;
  }

  isReady(index: number): boolean {
    return this.#streams[index]?.ready ?? false;
  }

  /** Output time base of a stream; meaningful once the header is written (the muxer may change it). */
  timeBase(index: number): IRational {
    const tb = this.#streams[index]!.stream.timeBase;
    return { num: tb.num, den: tb.den };
  }

  async #maybeWriteHeader(): Promise<void> {
    if (this.#headerWritten || !this.#streams.every((s) => s.ready)) return;
    const opts = Dictionary.fromObject({ movflags: '+faststart' });
    try {
      const ret = await this.#ctx.writeHeader(opts);
      if (ret < 0) throw new CodecError(`mp4 header: ${ffmpegText(ret)}`);
    } finally {
      opts.free();
    }
    this.#headerWritten = true;
    for (const pkt of this.#pending.splice(0)) {
      try {
        await this.#write(pkt);
      } finally {
        pkt.free();
      }
    }
  }

  async #write(pkt: Packet): Promise<void> {
    const tb = this.#streams[pkt.streamIndex]!.stream.timeBase;
    pkt.rescaleTs(pkt.timeBase, tb);
    pkt.timeBase = tb;
    const ret = await this.#ctx.interleavedWriteFrame(pkt);
    if (ret < 0) throw new CodecError(`mp4 write: ${ffmpegText(ret)}`);
  }

  /**
   * Writes a packet whose timestamps are in `pkt.timeBase`. The writer takes the packet's
   * payload (FFmpeg moves it out); the caller keeps the Packet object itself.
   */
  writePacket(index: number, pkt: Packet): Promise<void> {
    return this.#serial(() => this.#writePacket(index, pkt));
  }

  async #writePacket(index: number, pkt: Packet): Promise<void> {
    pkt.streamIndex = index;
    pkt.pos = -1n;
    if (!this.#headerWritten) {
      const copy = pkt.clone();
      if (!copy) throw new CodecError('out of memory queueing a packet');
      this.#pending.push(copy);
      pkt.unref();
      await this.#maybeWriteHeader();
      return;
    }
    await this.#write(pkt);
  }

  async writeData(index: number, p: OutPacket): Promise<void> {
    const pkt = new Packet();
    pkt.alloc();
    try {
      pkt.data = p.data;
      pkt.pts = p.pts;
      pkt.dts = p.dts;
      pkt.duration = p.duration;
      pkt.isKeyframe = p.keyframe;
      pkt.timeBase = p.timeBase;
      await this.#serial(() => this.#writePacket(index, pkt));
    } finally {
      pkt.free();
    }
  }

  /** Lets the header go out now that every stream that will ever be ready is (call before finish). */
  flushHeader(): Promise<void> {
    return this.#serial(() => this.#maybeWriteHeader());
  }

  /** Writes the trailer (and, with faststart, moves the index to the front). */
  finish(): Promise<void> {
    return this.#serial(() => this.#finish());
  }

  async #finish(): Promise<void> {
    await this.#maybeWriteHeader();
    if (!this.#headerWritten) throw new CodecError('output never got all of its streams ready');
    const ret = await this.#ctx.writeTrailer();
    if (ret < 0) throw new CodecError(`mp4 trailer: ${ffmpegText(ret)}`);
    await this.#release();
  }

  /** Releases everything without finishing the file (the caller deletes it), after any write in flight. Idempotent. */
  async close(): Promise<void> {
    await this.#tail.catch(() => undefined);
    await this.#release();
  }

  async #release(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const pkt of this.#pending.splice(0)) pkt.free();
    // Detach before closing: freeing the context with pb still set double-frees in node-av.
    this.#ctx.pb = null;
    await this.#io.closep().catch(() => undefined);
    this.#ctx.freeContext();
  }
}

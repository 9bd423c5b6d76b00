/**
 * The MP4 result file: H.264 from the codec stage plus audio copied or converted, written
 * through node-av's low-level muxer with faststart.
 */
import { Dictionary, FormatContext, IOContext, Packet, Rational, type IRational, type Stream } from 'node-av';
import { AVIO_FLAG_WRITE, AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_H264 } from 'node-av/constants';
import { CodecError } from '../shared/errors.js';
import { ffmpegText } from './container.js';

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

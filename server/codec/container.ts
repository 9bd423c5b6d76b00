/**
 * Thin wrappers over node-av's low-level format API for reading an uploaded file (the MP4
 * result is written by mp4-writer.ts). Low-level on purpose: node-av's high-level Demuxer reads ahead on
 * its own and spins on setImmediate while its queue is full, which on a slow generator
 * would burn a core for nothing; here one packet is read when the runner wants one.
 */
import { Codec, Dictionary, FFmpegError, FormatContext, InputFormat, avGetCodecName, type IRational, type Stream } from 'node-av';
import {
  AVERROR_EOF,
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
import type { DecoderCodecName } from './decoder.js';
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

/**
 * Decides whether an upload is a video the runner can translate, before the upload is
 * accepted: an allowed container (codec/formats.ts) opened with its own demuxer, a video stream
 * present, its codec decodable by the codec stage; size, duration and frame count within
 * limits by the container header, before anything else is read; then every packet present (a
 * cut-off file is caught here, not halfway through the job; packets are read, not decoded,
 * and the read stops at the frame limit) and the first frame actually decodes.
 */
import { stat } from 'node:fs/promises';
import { Packet } from 'node-av';
import { AV_PKT_FLAG_CORRUPT } from 'node-av/constants';
import {
  CodecError,
  FrameTooLargeError,
  InvalidMediaError,
  NoVideoError,
  UnsupportedCodecError,
  VideoTooLongError,
} from '../shared/errors.js';
import {
  AVERROR_EOF,
  AV_NOPTS_VALUE,
  closeMediaInput,
  createVideoDecoder,
  type DecoderCodecName,
  codecName,
  ffmpegText,
  findAudioStream,
  findVideoStream,
  hasFfmpegDecoder,
  mp4CarriesAudio,
  openMediaInput,
  pipelineDecoderFor,
  type VideoContainer,
} from '../codec/index.js';

export interface ProbeLimits {
  maxWidthPx: number;
  maxHeightPx: number;
  /** Longest duration taken; default no limit (the CLI). */
  maxDurationS?: number;
  /** Most video frames taken; default no limit. */
  maxFrames?: number;
}

export interface VideoProbe {
  /** FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm". */
  readonly container: string;
  /** The container its first bytes show (codec/formats.ts); the stored file is named after it. */
  readonly format: VideoContainer;
  readonly sizeBytes: number;
  readonly durationS: number;
  readonly video: {
    readonly index: number;
    readonly codec: DecoderCodecName;
    readonly width: number;
    readonly height: number;
    /** Average frame rate; the runner keeps the real per-frame timestamps regardless. */
    readonly fps: number;
    /** Video packets in the file: the frame count for every codec here. */
    readonly frames: number;
  };
  readonly audio: {
    readonly index: number;
    readonly codec: string;
    readonly action: 'copy' | 'aac';
  } | null;
}

/** Packets decoded at most while looking for the first picture (a long open GOP still fits). */
const FIRST_FRAME_PACKETS = 64;

function fitsLimits(width: number, height: number, limits: ProbeLimits): boolean {
  const { maxWidthPx: w, maxHeightPx: h } = limits;
  return (width <= w && height <= h) || (width <= h && height <= w);
}

export async function probeVideo(path: string, limits: ProbeLimits, label = 'the file'): Promise<VideoProbe> {
  const { size } = await stat(path);
  if (size === 0) throw new InvalidMediaError(`${label} is empty (0 bytes)`);
  const { ctx, container: format } = await openMediaInput(path, label);
  try {
    const container = ctx.iformat?.name ?? 'unknown';
    const stream = findVideoStream(ctx);
    if (!stream) throw new NoVideoError(`${label} has no video stream (container ${container})`);
    const par = stream.codecpar;
    const name = codecName(par.codecId);
    if (!hasFfmpegDecoder(par.codecId)) {
      throw new UnsupportedCodecError(`${label}: video codec ${name} cannot be decoded by this server's FFmpeg`);
    }
    const codec = pipelineDecoderFor(par.codecId);
    if (!codec) {
      throw new UnsupportedCodecError(`${label}: video codec ${name} is not supported (supported: H.264, HEVC, VP8, VP9, MPEG-4 Part 2)`);
    }
    const { width, height } = par;
    if (!(width > 0 && height > 0)) throw new InvalidMediaError(`${label}: the video stream has no picture size`);
    if (!fitsLimits(width, height, limits)) {
      throw new FrameTooLargeError(`${label} is ${width}x${height}; the limit is ${limits.maxWidthPx}x${limits.maxHeightPx} (either orientation)`);
    }
    const maxFrames = limits.maxFrames ?? Infinity;
    const maxDurationS = limits.maxDurationS ?? Infinity;
    const headerDurationS = ctx.duration > 0n ? Number(ctx.duration) / 1e6 : 0;
    if (headerDurationS > maxDurationS) {
      throw new VideoTooLongError(`${label} lasts ${headerDurationS.toFixed(1)} s; the limit is ${maxDurationS} s`);
    }
    const headerFrames = Number(stream.nbFrames);
    if (headerFrames > maxFrames) throw new VideoTooLongError(`${label} has ${headerFrames} frames; the limit is ${maxFrames}`);

    const audioStream = findAudioStream(ctx);
    let audio: VideoProbe['audio'] = null;
    if (audioStream) {
      const id = audioStream.codecpar.codecId;
      if (mp4CarriesAudio(id)) audio = { index: audioStream.index, codec: codecName(id), action: 'copy' };
      // No decoder means no way to AAC either: the result goes out silent rather than not at all.
      else if (hasFfmpegDecoder(id)) audio = { index: audioStream.index, codec: codecName(id), action: 'aac' };
    }

    // Every packet, read without decoding: counts frames for progress and finds files that
    // stop early (a truncated MP4 still opens, its index promising packets that are gone).
    const decoder = createVideoDecoder({ codec, extradata: par.extradata ?? undefined });
    const pkt = new Packet();
    pkt.alloc();
    let frames = 0;
    let decodedFrames = 0;
    let tried = 0;
    let corrupt = 0;
    let endRet = 0;
    try {
      for (;;) {
        const ret = await ctx.readFrame(pkt);
        if (ret < 0) {
          endRet = ret;
          break;
        }
        if (pkt.streamIndex === stream.index) {
          frames++;
          // A container without counts in its header is still stopped here, not at its end.
          if (frames > maxFrames) throw new VideoTooLongError(`${label} has more than ${maxFrames} frames; the limit is ${maxFrames}`);
          if ((pkt.flags & AV_PKT_FLAG_CORRUPT) !== 0) corrupt++;
          if (decodedFrames === 0 && tried < FIRST_FRAME_PACKETS && pkt.data) {
            tried++;
            const pts = pkt.pts !== AV_NOPTS_VALUE ? pkt.pts : pkt.dts;
            try {
              const out = await decoder.decode(pkt.data, { keyframe: pkt.isKeyframe, ptsMs: pts === AV_NOPTS_VALUE ? tried : Number(pts) });
              decodedFrames += out.length;
            } catch (err) {
              if (!(err instanceof CodecError)) throw err;
            }
          }
        }
        pkt.unref();
      }
      if (decodedFrames === 0 && tried > 0) {
        try {
          decodedFrames += (await decoder.flush()).length;
        } catch (err) {
          if (!(err instanceof CodecError)) throw err;
        }
      }
    } finally {
      pkt.free();
      await decoder.close();
    }

    if (endRet !== AVERROR_EOF) throw new InvalidMediaError(`${label} could not be read to the end (${ffmpegText(endRet)}); it may be damaged`);
    if (frames === 0) throw new InvalidMediaError(`${label}: the video stream holds no frames`);
    const indexed = Number(stream.nbFrames);
    if (corrupt > 0 || (indexed > 0 && frames < indexed)) {
      throw new InvalidMediaError(`${label} is truncated: ${frames} of ${indexed > 0 ? indexed : 'the'} video frames present${corrupt ? `, ${corrupt} damaged` : ''}`);
    }
    if (decodedFrames === 0) throw new InvalidMediaError(`${label}: no ${name} frame could be decoded`);

    const durationUs = ctx.duration;
    let durationS = durationUs > 0n ? Number(durationUs) / 1e6 : 0;
    const rate = stream.avgFrameRate.num > 0 && stream.avgFrameRate.den > 0 ? stream.avgFrameRate : stream.rFrameRate;
    let fps = rate.num > 0 && rate.den > 0 ? rate.num / rate.den : 0;
    if (!(fps > 0 && fps <= 1000)) fps = durationS > 0 ? frames / durationS : 25;
    if (!(durationS > 0)) durationS = frames / fps;
    if (durationS > maxDurationS) throw new VideoTooLongError(`${label} lasts ${durationS.toFixed(1)} s; the limit is ${maxDurationS} s`);
    return {
      container,
      format,
      sizeBytes: size,
      durationS,
      video: { index: stream.index, codec, width, height, fps, frames },
      audio,
    };
  } finally {
    await closeMediaInput(ctx);
  }
}

/**
 * Test inputs for the video-job tests and an independent way to look inside results: real
 * clips from ../shared/datasets/videos (see its README.md), fixtures generated once into
 * test/.artifacts by the scripts in test/fixtures/video, and a reader built on node-av's
 * high-level API (not the codec stage under test) that decodes every frame to small RGB.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AVMEDIA_TYPE_AUDIO, AVMEDIA_TYPE_VIDEO, FormatContext, Packet, avGetCodecName } from 'node-av';
import { Decoder, Demuxer, FilterAPI } from 'node-av/api';
import { makeAudioClip } from '../../fixtures/video/make-audio-clip.js';
import { makeUndecodable } from '../../fixtures/video/make-undecodable.js';
import { makeVfrClip } from '../../fixtures/video/make-vfr-clip.js';
import { VIDEOS_DIR, artifactsDir } from '../../helpers/paths.js';
import { installPolyfills } from '../../../server/shared/index.js';

export const CLIPS = {
  /** H.264 854x480, 50 frames, 24 fps. */
  h264: path.join(VIDEOS_DIR, 'davis-horsejump-high.mp4'),
  /** VP9 854x480, 50 frames. */
  vp9: path.join(VIDEOS_DIR, 'davis-horsejump-high.webm'),
  /** MPEG-4 Part 2, 288x216, 30 fps, 133 frames. */
  mpeg4: path.join(VIDEOS_DIR, 'horse-gallop-beach.mp4'),
  /** H.264 854x480, 104 frames. */
  cows: path.join(VIDEOS_DIR, 'davis-cows.mp4'),
} as const;

async function cached(name: string, make: (out: string) => Promise<unknown>): Promise<string> {
  const out = path.join(artifactsDir(), name);
  if (!existsSync(out)) {
    // Write under a temporary name first: an interrupted run must not leave a half file behind as "cached".
    const tmp = `${out}.tmp-${process.pid}${path.extname(name)}`;
    await make(tmp);
    await rename(tmp, out);
  }
  return out;
}

export const fixtures = {
  /** H.264 clip + AAC sine (MP4): audio is copied. */
  aacClip: () => cached('horsejump-aac.mp4', (o) => makeAudioClip(CLIPS.h264, o, 'aac', 440)),
  /** H.264 clip + PCM sine (Matroska): audio is converted to AAC. */
  pcmClip: () => cached('horsejump-pcm.mkv', (o) => makeAudioClip(CLIPS.h264, o, 'pcm', 440)),
  /** AAC only: no video stream. */
  audioOnly: () => cached('tone-only.m4a', (o) => makeAudioClip(CLIPS.h264, o, 'audio-only', 440)),
  /** AVS2 in Matroska: FFmpeg here cannot decode it. */
  undecodable: () => cached('avs2.mkv', (o) => makeUndecodable(o)),
  /** VP9 with irregular frame gaps (25/40/90 ms). */
  vfrClip: () => cached('horsejump-vfr.webm', (o) => makeVfrClip(CLIPS.vp9, o, 40)),
};

export async function tempDir(prefix = 'cyclestream-jobs-'): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface VideoContents {
  videoCodec: string;
  width: number;
  height: number;
  /** Presentation time of each decoded frame, ms from the file's zero. */
  ptsMs: number[];
  /** Each frame as packed RGB at the requested sample size. */
  frames: Uint8Array[];
  /** Container duration. */
  durationS: number;
  audio: { codec: string; sampleRate: number; packets: number; durationS: number } | null;
}

/** Decodes every video frame (scaled to sampleW x sampleH RGB) and counts the audio packets. */
export async function readVideo(file: string, sampleW = 96, sampleH = 54): Promise<VideoContents> {
  installPolyfills();
  await using demuxer = await Demuxer.open(file);
  const video = demuxer.video();
  if (!video) throw new Error(`${file}: no video`);
  using decoder = await Decoder.create(video);
  using filter = FilterAPI.create(`scale=${sampleW}:${sampleH}:flags=area,format=rgb24`);
  const ptsMs: number[] = [];
  const frames: Uint8Array[] = [];
  for await (const f of filter.frames(decoder.frames(demuxer.packets(video.index)))) {
    if (!f) continue;
    ptsMs.push((Number(f.pts) * 1000 * f.timeBase.num) / f.timeBase.den);
    frames.push(new Uint8Array(f.toBuffer()));
    f.free();
  }
  const audio = await audioSummary(file);
  return {
    videoCodec: avGetCodecName(video.codecpar.codecId) ?? '?',
    width: video.codecpar.width,
    height: video.codecpar.height,
    ptsMs,
    frames,
    durationS: demuxer.duration,
    audio,
  };
}

/** The first audio stream: codec, rate, packet count and the span its packets cover. */
export async function audioSummary(file: string): Promise<VideoContents['audio']> {
  const ctx = new FormatContext();
  if ((await ctx.openInput(file, null, null)) < 0) throw new Error(`cannot open ${file}`);
  try {
    await ctx.findStreamInfo(null);
    const s = ctx.streams.find((x) => x.codecpar.codecType === AVMEDIA_TYPE_AUDIO);
    if (!s) return null;
    const pkt = new Packet();
    pkt.alloc();
    let packets = 0;
    let endTicks = 0;
    let startTicks = Infinity;
    while ((await ctx.readFrame(pkt)) >= 0) {
      if (pkt.streamIndex === s.index) {
        packets++;
        startTicks = Math.min(startTicks, Number(pkt.pts));
        endTicks = Math.max(endTicks, Number(pkt.pts + pkt.duration));
      }
      pkt.unref();
    }
    pkt.free();
    const tb = s.timeBase;
    return {
      codec: avGetCodecName(s.codecpar.codecId) ?? '?',
      sampleRate: s.codecpar.sampleRate,
      packets,
      durationS: packets ? ((endTicks - startTicks) * tb.num) / tb.den : 0,
    };
  } finally {
    await ctx.closeInput();
  }
}

/** Video stream count in a file (0 for audio-only). */
export async function videoStreams(file: string): Promise<number> {
  const ctx = new FormatContext();
  if ((await ctx.openInput(file, null, null)) < 0) throw new Error(`cannot open ${file}`);
  try {
    await ctx.findStreamInfo(null);
    return ctx.streams.filter((s) => s.codecpar.codecType === AVMEDIA_TYPE_VIDEO).length;
  } finally {
    await ctx.closeInput();
  }
}

/** Mean over all samples of |b - (255 - a)|: 0 when b is exactly the inverse of a. */
export function invertError(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(b[i]! - (255 - a[i]!));
  return sum / a.length;
}

export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(b[i]! - a[i]!);
  return sum / a.length;
}

export function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

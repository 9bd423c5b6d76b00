/**
 * The video-file runner: demux, decode (codec stage), scale to the processing size, translate
 * (inference stage), smooth (temporal stage), scale to the output size, encode H.264 (codec
 * stage) and mux an MP4 with faststart, audio copied or converted to AAC. Every decoded frame
 * is translated and keeps its own timestamp, so variable frame rate survives.
 * Used by the job queue and by the CLI alike.
 */
import { rm } from 'node:fs/promises';
import { Packet, type FormatContext, type IRational } from 'node-av';
import {
  createRgbConverter,
  createVideoDecoder,
  createVideoEncoder,
  type DecodedFrame,
  type EncodedPacket,
  type VideoDecoder,
  type VideoEncoder,
  AVERROR_EOF,
  AV_NOPTS_VALUE,
  Mp4Writer,
  closeMediaInput,
  createAudioPath,
  ffmpegText,
  msPerTick,
  openMediaInput,
  type AudioPath,
} from '../codec/index.js';
import type { Generator } from '../inference/index.js';
import { createTemporalSmoother } from '../temporal/index.js';
import { FrameTranslator } from '../translate/index.js';
import { BadRequestError, CodecError, InvalidMediaError, JobCancelledError, asCycleStreamError } from '../shared/errors.js';
import { processingSize, type RgbImage } from '../shared/image.js';
import { RgbPool } from '../shared/rgb-pool.js';
import type { VideoProbe } from './probe.js';

export interface VideoProgress {
  readonly framesDone: number;
  readonly framesTotal: number;
}

export interface TranslateVideoOptions {
  inputPath: string;
  outputPath: string;
  probe: VideoProbe;
  generator: Generator;
  /** Temporal smoothing, 0..1. */
  smoothing: number;
  /** Short side of the picture the model sees. */
  processingShortSidePx: number;
  /** Output size; default the source's. A missing side keeps the aspect ratio; sides round down to even (yuv420p). */
  outputSize?: { width?: number | null; height?: number | null } | null;
  signal?: AbortSignal;
  onProgress?: (p: VideoProgress) => void;
}

export interface VideoResult {
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly durationS: number;
  readonly audio: 'copy' | 'aac' | 'none';
  readonly decodeErrors: number;
}

const even = (v: number) => Math.max(2, Math.floor(v / 2) * 2);

/** About 0.12 bits per pixel: clean at 480p for CycleGAN-style textures; 1 s VBV in the codec stage. */
export function outputBitrateKbps(width: number, height: number, fps: number): number {
  return Math.min(40_000, Math.max(600, Math.round((width * height * Math.min(fps, 60) * 0.12) / 1000)));
}

/** Resolves an output size request against the source: missing sides keep the aspect ratio. */
export function resolveOutputSize(
  source: { width: number; height: number },
  requested: { width?: number | null; height?: number | null } | null | undefined,
): { width: number; height: number } {
  const w = requested?.width ?? null;
  const h = requested?.height ?? null;
  if (w === null && h === null) return { width: even(source.width), height: even(source.height) };
  if (w !== null && h !== null) return { width: even(w), height: even(h) };
  if (w !== null) return { width: even(w), height: even((w * source.height) / source.width) };
  return { width: even((h! * source.width) / source.height), height: even(h!) };
}

function cancelled(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function cancelError(signal: AbortSignal): JobCancelledError {
  const reason: unknown = signal.reason;
  return reason instanceof JobCancelledError ? reason : new JobCancelledError('the job was cancelled');
}

export async function translateVideo(opts: TranslateVideoOptions): Promise<VideoResult> {
  const { probe, generator, signal } = opts;
  if (!(opts.smoothing >= 0 && opts.smoothing <= 1)) throw new BadRequestError(`smoothing ${opts.smoothing} is not in [0, 1]`);
  if (signal?.aborted) throw cancelError(signal);

  const out = resolveOutputSize(probe.video, opts.outputSize);
  const proc = processingSize(out.width, out.height, opts.processingShortSidePx, generator.manifest.input.sizeMultiple);
  const fps = probe.video.fps;

  let input: FormatContext | null = null;
  let writer: Mp4Writer | null = null;
  let decoder: VideoDecoder | null = null;
  let encoder: VideoEncoder | null = null;
  let audio: AudioPath | null = null;
  const converter = createRgbConverter();
  const temporal = createTemporalSmoother({ strength: opts.smoothing });
  const pkt = new Packet();
  pkt.alloc();
  let finished = false;

  try {
    input = (await openMediaInput(opts.inputPath, 'the input')).ctx;
    const vStream = input.streams[probe.video.index];
    if (!vStream) throw new InvalidMediaError('the input lost its video stream since it was probed');
    const vTb: IRational = { num: vStream.timeBase.num, den: vStream.timeBase.den };
    const tickMs = msPerTick(vTb);
    const aStream = probe.audio ? input.streams[probe.audio.index] : undefined;

    // Time zero: the earliest start among the streams kept, so A/V offsets survive.
    const startUs = (s: { startTime: bigint; timeBase: { num: number; den: number } } | undefined): number | null =>
      s && s.startTime !== AV_NOPTS_VALUE ? (Number(s.startTime) * s.timeBase.num * 1e6) / s.timeBase.den : null;
    const starts = [startUs(vStream), startUs(aStream)].filter((v): v is number => v !== null);
    const originUs = starts.length ? Math.min(...starts) : 0;
    const originMs = originUs / 1000;

    writer = await Mp4Writer.open(opts.outputPath);
    const sar = vStream.sampleAspectRatio;
    const sameSize = out.width === even(probe.video.width) && out.height === even(probe.video.height);
    const videoIndex = writer.addH264Video({
      width: out.width,
      height: out.height,
      fps,
      sampleAspectRatio: sameSize && sar.num > 0 && sar.num !== sar.den ? { num: sar.num, den: sar.den } : undefined,
    });
    if (aStream && probe.audio) audio = await createAudioPath(writer, aStream, probe.audio.action, BigInt(Math.round(originUs)));

    decoder = createVideoDecoder({ codec: probe.video.codec, extradata: vStream.codecpar.extradata ?? undefined });
    encoder = createVideoEncoder({
      codec: 'h264',
      width: out.width,
      height: out.height,
      fps: Math.min(240, Math.max(1, fps)),
      bitrateKbps: outputBitrateKbps(out.width, out.height, fps),
      keyframeIntervalFrames: Math.max(1, Math.round(fps * 2)),
    });

    // Pictures at the processing size: one decoded ahead, one in the model, one being finished.
    const pictureBuffers = new RgbPool(3);
    const frameMs = 1000 / fps;
    let framesDone = 0;
    let decodeErrors = 0;
    let lastPacketTs: number | null = null;
    let lastDurationMs = frameMs;
    let lastOutMs = -Infinity;
    // One encoded packet held back, so its duration can come from the next one's timestamp.
    let held: EncodedPacket | null = null;

    const writeVideo = async (p: EncodedPacket, durationMs: number) => {
      await writer!.writeData(videoIndex, {
        data: p.data,
        pts: BigInt(p.ptsMs),
        dts: BigInt(p.ptsMs),
        duration: BigInt(Math.max(1, Math.round(durationMs))),
        keyframe: p.keyframe,
        timeBase: { num: 1, den: 1000 },
      });
    };
    const emit = async (packets: EncodedPacket[]) => {
      for (const p of packets) {
        if (held) await writeVideo(held, p.ptsMs - held.ptsMs);
        held = p;
      }
    };

    /**
     * Producer: reads packets (audio goes straight to the muxer), decodes, and yields each
     * picture scaled to the processing size with its time in ms. The consumer asks for the
     * next one before translating the current one, so decoding overlaps the model's run.
     */
    async function* pictures(): AsyncGenerator<{ img: RgbImage; ms: number }> {
      const convert = (d: DecodedFrame) => {
        const img = pictureBuffers.take(proc.width, proc.height);
        converter.toRgb(d.frame, proc.width, proc.height, img);
        // d.ptsMs carries the stream's own tick count (see below); here it becomes ms.
        return { img, ms: Math.round(d.ptsMs * tickMs - originMs) };
      };
      for (;;) {
        if (cancelled(signal)) throw cancelError(signal!);
        const ret = await input!.readFrame(pkt);
        if (ret === AVERROR_EOF) break;
        if (ret < 0) throw new InvalidMediaError(`reading the input failed: ${ffmpegText(ret)}`);
        let frames: DecodedFrame[] = [];
        try {
          if (pkt.streamIndex === probe.video.index) {
            const data = pkt.data;
            if (!data || data.length === 0) continue;
            // The decoder carries whatever number it is given through to the frame; the
            // stream's tick count keeps exact timestamps until they are turned into ms.
            let ts = pkt.pts !== AV_NOPTS_VALUE ? Number(pkt.pts) : pkt.dts !== AV_NOPTS_VALUE ? Number(pkt.dts) : null;
            if (ts === null) ts = lastPacketTs === null ? originMs / tickMs : lastPacketTs + frameMs / tickMs;
            if (pkt.duration > 0n) lastDurationMs = Number(pkt.duration) * tickMs;
            lastPacketTs = ts;
            try {
              frames = await decoder!.decode(data, { keyframe: pkt.isKeyframe, ptsMs: ts });
            } catch (err) {
              if (!(err instanceof CodecError)) throw err;
              // One damaged packet: FFmpeg's own tools carry on too. The count check below fails loudly if many are.
              decodeErrors++;
            }
          } else if (audio && pkt.streamIndex === probe.audio!.index) {
            await audio.push(pkt);
          }
        } finally {
          pkt.unref();
        }
        // Decoded frames belong to the decoder until its next call: convert each before yielding.
        for (const d of frames) yield convert(d);
      }
      for (const d of await decoder!.flush()) yield convert(d);
    }

    // Consumer: the translation stage (model, smoothing, scale to output size, encode), which
    // finishes one frame while the model works on the next. A frame that fails after the model
    // fails the job, as soon as the next frame's model run is back.
    let failure: unknown = null;
    const translator = new FrameTranslator<number>({
      temporal,
      converter,
      encode: (yuv, ptsMs) => encoder!.encode(yuv, { ptsMs }).then(emit),
      onError: (err) => {
        failure ??= err;
      },
    });
    const source = pictures();
    // Handled now and awaited later: a failure that lands while the model runs must not count as unhandled.
    const pull = () => {
      const p = source.next();
      p.catch(() => undefined);
      return p;
    };
    let ahead = pull();
    try {
      for (;;) {
        const next = await ahead;
        if (next.done) break;
        ahead = pull();
        if (cancelled(signal)) throw cancelError(signal!);
        const { img, ms: rawMs } = next.value;
        const ms = rawMs <= lastOutMs ? lastOutMs + 1 : rawMs;
        lastOutMs = ms;
        const release = () => pictureBuffers.release(img);
        await translator.translate(generator, { img, streamWidth: out.width, streamHeight: out.height, meta: ms, release });
        if (failure) throw failure;
        framesDone++;
        opts.onProgress?.({ framesDone, framesTotal: Math.max(framesDone, probe.video.frames) });
      }
      await translator.flush();
      if (failure) throw failure;
    } finally {
      // Nothing may still be reading, decoding or encoding when the finally below frees the contexts.
      await translator.flush();
      await ahead.catch(() => undefined);
      await source.return(undefined).catch(() => undefined);
    }
    await emit(await encoder.flush());
    if (held) await writeVideo(held, lastDurationMs);
    if (audio) await audio.finish();
    if (framesDone === 0) throw new InvalidMediaError('no video frame could be decoded');
    if (decodeErrors > Math.max(2, probe.video.frames * 0.05)) {
      throw new InvalidMediaError(`${decodeErrors} of ${probe.video.frames} video packets could not be decoded`);
    }
    await writer.finish();
    finished = true;
    return {
      frames: framesDone,
      width: out.width,
      height: out.height,
      durationS: (lastOutMs + lastDurationMs) / 1000,
      audio: audio ? audio.action : 'none',
      decodeErrors,
    };
  } catch (err) {
    if (signal?.aborted) throw cancelError(signal);
    throw asCycleStreamError(err, CodecError);
  } finally {
    pkt.free();
    audio?.close();
    await decoder?.close();
    await encoder?.close();
    await converter.close();
    if (writer) await writer.close();
    if (input) await closeMediaInput(input).catch(() => undefined);
    if (!finished) await rm(opts.outputPath, { force: true }).catch(() => undefined);
  }
}

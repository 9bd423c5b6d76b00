/**
 * The pipeline bench's input: a real H.264 clip demuxed once into memory, so that reading the file is
 * never timed, and its first frame at the processing size for the model-only passes.
 */
import { Demuxer } from 'node-av/api';
import { createRgbConverter, createVideoDecoder } from '../../server/codec/index.js';
import { installPolyfills, type RgbImage } from '../../server/shared/index.js';

export const CLIP_NAME = 'davis-horsejump-high.mp4';

export interface Clip {
  file: string;
  width: number;
  height: number;
  extradata: Buffer;
  packets: { data: Buffer; keyframe: boolean; ptsMs: number }[];
}

export async function loadClip(file: string): Promise<Clip> {
  installPolyfills();
  await using demuxer = await Demuxer.open(file);
  const stream = demuxer.video();
  if (!stream) throw new Error(`${file}: no video stream`);
  const par = stream.codecpar;
  // Copies: the stream's buffers die with the demuxer.
  const extradata = Buffer.from(par.extradata ?? Buffer.alloc(0));
  const tb = stream.timeBase;
  const packets: Clip['packets'] = [];
  for await (const p of demuxer.packets(stream.index)) {
    if (!p) break;
    if (p.data) packets.push({ data: Buffer.from(p.data), keyframe: p.isKeyframe, ptsMs: (Number(p.pts) * 1000 * tb.num) / tb.den });
    p.free();
  }
  return { file, width: par.width, height: par.height, extradata, packets };
}

export async function firstFrame(clip: Clip, proc: { width: number; height: number }): Promise<RgbImage> {
  await using decoder = createVideoDecoder({ codec: 'h264', extradata: clip.extradata });
  await using converter = createRgbConverter();
  for (const p of clip.packets) {
    const [d] = await decoder.decode(p.data, { keyframe: p.keyframe, ptsMs: p.ptsMs });
    if (d) {
      const img = converter.toRgb(d.frame, proc.width, proc.height);
      return { width: img.width, height: img.height, data: Uint8Array.from(img.data) };
    }
  }
  const [d] = await decoder.flush();
  if (!d) throw new Error(`${clip.file}: no frame decoded`);
  const img = converter.toRgb(d.frame, proc.width, proc.height);
  return { width: img.width, height: img.height, data: Uint8Array.from(img.data) };
}

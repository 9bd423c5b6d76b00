/**
 * Real VP8 / H.264 frames for the WebRTC tests, encoded in-process with node-av (libvpx, libx264)
 * from a synthetic moving pattern. Options go through ctx.setOption() and open2Sync(codec, null):
 * open2Sync with a dictionary crashes in node-av 6.1.1 (see stack-notes).
 */
import { Codec, CodecContext, Frame, Log, Packet } from 'node-av/lib';
import {
  AV_LOG_ERROR,
  AV_PICTURE_TYPE_I,
  AV_PICTURE_TYPE_NONE,
  AV_PIX_FMT_YUV420P,
  FF_ENCODER_LIBVPX_VP8,
  FF_ENCODER_LIBX264,
} from 'node-av/constants';

export interface TestFrame {
  data: Buffer;
  keyframe: boolean;
  ptsMs: number;
}

export interface EncodeOptions {
  codec: 'vp8' | 'h264';
  width: number;
  height: number;
  count: number;
  /** Frame indexes forced to be key frames (frame 0 always is). */
  forceKeyframes?: number[];
  fps?: number;
  /** Start of the pattern's motion, so two runs give different pictures. */
  seed?: number;
}

function pattern(width: number, height: number, t: number): Buffer {
  const ySize = width * height;
  const buf = Buffer.alloc(ySize + 2 * (ySize >> 2));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      buf[y * width + x] = ((x + 3 * t) ^ (y - 2 * t)) & 0xff;
    }
  }
  buf.fill(128 + (t % 32), ySize, ySize + (ySize >> 2));
  buf.fill(128 - (t % 32), ySize + (ySize >> 2));
  return buf;
}

export function encodeFrames(options: EncodeOptions): TestFrame[] {
  const { width, height, count } = options;
  const fps = options.fps ?? 30;
  Log.setLevel(AV_LOG_ERROR);
  const codec = Codec.findEncoderByName(options.codec === 'vp8' ? FF_ENCODER_LIBVPX_VP8 : FF_ENCODER_LIBX264);
  if (!codec) throw new Error(`encoder for ${options.codec} not available`);
  const ctx = new CodecContext();
  ctx.allocContext3(codec);
  ctx.width = width;
  ctx.height = height;
  ctx.pixelFormat = AV_PIX_FMT_YUV420P;
  ctx.timeBase = { num: 1, den: 1000 } as never;
  ctx.framerate = { num: fps, den: 1 } as never;
  ctx.bitRate = 800_000n;
  ctx.threadCount = 1;
  ctx.gopSize = 10_000;
  ctx.maxBFrames = 0;
  const settings: Record<string, string> =
    options.codec === 'vp8'
      ? { deadline: 'realtime', 'cpu-used': '8', 'lag-in-frames': '0', 'error-resilient': '1', 'auto-alt-ref': '0' }
      : { preset: 'ultrafast', tune: 'zerolatency', profile: 'baseline', 'x264-params': 'repeat-headers=1' };
  for (const [k, v] of Object.entries(settings)) ctx.setOption(k, v);
  const opened = ctx.open2Sync(codec, null);
  if (opened < 0) throw new Error(`opening ${options.codec} encoder failed: ${opened}`);

  const frames: TestFrame[] = [];
  const packet = new Packet();
  packet.alloc();
  const seed = options.seed ?? 0;
  const drain = () => {
    while (ctx.receivePacketSync(packet) >= 0) {
      const data = packet.data;
      if (data) frames.push({ data: Buffer.from(data), keyframe: packet.isKeyframe, ptsMs: Number(packet.pts) });
      packet.unref();
    }
  };
  for (let i = 0; i < count; i++) {
    const frame = Frame.fromVideoBuffer(pattern(width, height, seed + i), {
      width,
      height,
      format: AV_PIX_FMT_YUV420P,
      timeBase: { num: 1, den: 1000 },
    } as never);
    frame.pts = BigInt(Math.round((i * 1000) / fps));
    frame.pictType = options.forceKeyframes?.includes(i) ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    ctx.sendFrameSync(frame);
    frame.free();
    drain();
  }
  ctx.sendFrameSync(null);
  drain();
  packet.free();
  ctx.freeContext();
  return frames;
}

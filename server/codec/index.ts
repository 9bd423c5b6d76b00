export {
  createVideoDecoder,
  type DecodeOptions,
  type DecodedFrame,
  type DecoderCodecName,
  type VideoDecoder,
  type VideoDecoderOptions,
  type VideoDecoderStats,
} from './decoder.js';
export {
  createVideoEncoder,
  type EncodeOptions,
  type EncodedPacket,
  type EncoderCodecName,
  type VideoEncoder,
  type VideoEncoderOptions,
  type VideoEncoderStats,
} from './encoder.js';
export { createRgbConverter, type RgbConverter, type RgbConverterStats } from './rgb.js';
export { ExpGolombReader, h264SpsSize, vp8KeyframeSize, type CodedSize } from './frame-header.js';
export { setFfmpegLogLevel, type FfmpegLogLevel } from './ffmpeg.js';
export type { Frame } from 'node-av';

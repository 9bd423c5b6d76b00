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
export {
  ACCEPTED_VIDEO_TEXT,
  HEAD_BYTES,
  IMAGE_CONTAINERS,
  VIDEO_CONTAINERS,
  readHead,
  sniffBytes,
  sniffFile,
  storedContentType,
  type ImageContainer,
  type Sniffed,
  type VideoContainer,
} from './formats.js';
export {
  AVERROR_EOF,
  AV_NOPTS_VALUE,
  closeMediaInput,
  codecName,
  ffmpegText,
  findAudioStream,
  findVideoStream,
  hasFfmpegDecoder,
  mp4CarriesAudio,
  msPerTick,
  openMediaInput,
  pipelineDecoderFor,
} from './container.js';
export { Mp4Writer, type OutPacket } from './mp4-writer.js';
export { createAudioPath, type AudioPath } from './audio.js';
export type { Frame } from 'node-av';

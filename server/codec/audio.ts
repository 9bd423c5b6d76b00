/**
 * The sound of an uploaded video, carried into the MP4: packets copied as they are when MP4
 * holds the codec, otherwise decoded and encoded to AAC with node-av's high-level decoder
 * and encoder (which resample and re-chunk to AAC's 1024-sample frames on their own).
 */
import { Decoder, Encoder, avRescaleQ, type Frame, type Packet, type Stream } from 'node-av';
import { AV_CODEC_FLAG_GLOBAL_HEADER, AV_NOPTS_VALUE, FF_ENCODER_AAC } from 'node-av/constants';
import type { IRational } from 'node-av';
import { CodecError, asCycleStreamError } from '../shared/errors.js';
import type { Mp4Writer } from './mp4-writer.js';

export interface AudioPath {
  readonly action: 'copy' | 'aac';
  /** One demuxed packet of the audio stream; the packet is consumed. */
  push(pkt: Packet): Promise<void>;
  /** Drains decoder and encoder at the end of the input. */
  finish(): Promise<void>;
  close(): void;
}

const AAC_BITRATE = '160k';
const MICROSECONDS: IRational = { num: 1, den: 1_000_000 };

/**
 * `originUs`: the input's time zero (earliest stream start), subtracted from every timestamp
 * so audio and video keep their offset from each other and the output starts at 0.
 */
export async function createAudioPath(writer: Mp4Writer, input: Stream, action: 'copy' | 'aac', originUs: bigint): Promise<AudioPath> {
  const inTb: IRational = { num: input.timeBase.num, den: input.timeBase.den };
  const shift = (pkt: Packet, tb: IRational) => {
    const offset = avRescaleQ(originUs, MICROSECONDS, tb);
    if (pkt.pts !== AV_NOPTS_VALUE) pkt.pts -= offset;
    if (pkt.dts !== AV_NOPTS_VALUE) pkt.dts -= offset;
  };

  if (action === 'copy') {
    const index = writer.addCopiedStream(input);
    return {
      action,
      async push(pkt) {
        pkt.timeBase = inTb;
        shift(pkt, inTb);
        await writer.writePacket(index, pkt);
      },
      async finish() {},
      close() {},
    };
  }

  const index = writer.addLateStream({ num: 1, den: input.codecpar.sampleRate || 48_000 });
  let decoder: Decoder;
  let encoder: Encoder;
  try {
    decoder = await Decoder.create(input);
    encoder = await Encoder.create(FF_ENCODER_AAC, {
      bitrate: AAC_BITRATE,
      autoResample: true,
      // MP4 keeps AAC's AudioSpecificConfig in the header, not in the packets.
      configure: (ctx) => ctx.setFlags(AV_CODEC_FLAG_GLOBAL_HEADER),
    });
  } catch (err) {
    throw asCycleStreamError(err, CodecError);
  }

  const write = async (packets: Packet[]) => {
    for (const out of packets) {
      try {
        if (!writer.isReady(index)) {
          const ctx = encoder.getCodecContext();
          if (!ctx) throw new CodecError('AAC encoder produced a packet before opening');
          writer.setParameters(index, (stream) => {
            stream.codecpar.fromContext(ctx);
            stream.codecpar.codecTag = 0;
          });
        }
        const tb = out.timeBase;
        shift(out, tb);
        await writer.writePacket(index, out);
      } finally {
        out.free();
      }
    }
  };
  const encode = async (frames: Frame[]) => {
    for (const frame of frames) {
      try {
        await write(await encoder.encodeAll(frame));
      } finally {
        frame.free();
      }
    }
  };

  return {
    action,
    async push(pkt) {
      pkt.timeBase = inTb;
      try {
        await encode(await decoder.decodeAll(pkt));
      } catch (err) {
        // A damaged audio packet costs a moment of sound, not the whole job.
        if (err instanceof CodecError) throw err;
      }
    },
    async finish() {
      try {
        await encode(await decoder.decodeAll(null));
        await write(await encoder.encodeAll(null));
      } catch (err) {
        throw asCycleStreamError(err, CodecError);
      }
    },
    close() {
      decoder.close();
      encoder.close();
    },
  };
}

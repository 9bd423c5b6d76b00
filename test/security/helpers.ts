/**
 * Shared by the security tests: a live webcam-style session driven by a werift peer that sends
 * real encoded frames (test/server/webrtc/encode.ts) and counts the translated frames it gets
 * back, and fault injection into the real codec and model stages of one session.
 */
import assert from 'node:assert/strict';
import { connect, waitFor, type TestSocket } from '../helpers/app.js';
import { BrowserPeer } from '../server/webrtc/browser-peer.js';
import { encodeFrames, type TestFrame } from '../server/webrtc/encode.js';
import { FFMPEG_CODECS, type LiveCodecs, type LiveStage } from '../../server/session/index.js';
import type { InferenceHost } from '../../server/inference/index.js';
import type { AppHooks } from '../../server/app.js';
import type { CloseReason, SessionInfo, WireError } from '../../server/contract/index.js';

export type StartResult = ({ ok: true } & SessionInfo) | { ok: false; error: WireError };

export function start(socket: TestSocket, payload: unknown): Promise<StartResult> {
  return new Promise((resolve) => socket.emit('session:start', payload as never, resolve as never));
}

export interface LivePeer {
  socket: TestSocket;
  peer: BrowserPeer;
  info: SessionInfo;
  errors: WireError[];
  closed: Promise<CloseReason>;
  /** Translated frames received so far. */
  received(): number;
  close(): Promise<void>;
}

const frameCache = new Map<string, TestFrame[]>();

/** Encoded once per codec and size, then looped. */
export function testFrames(codec: 'vp8' | 'h264', width: number, height: number, count = 30): TestFrame[] {
  const key = `${codec}:${width}x${height}:${count}`;
  let frames = frameCache.get(key);
  if (!frames) {
    frames = encodeFrames({ codec, width, height, count });
    frameCache.set(key, frames);
  }
  return frames;
}

/** Sends frames at ~30 fps until stopped; a send that fails (peer closed) ends the loop. */
export function pump(peer: BrowserPeer, codec: 'vp8' | 'h264', frames: TestFrame[]): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    for (let i = 0, pts = 0; running; i++, pts += 33) {
      const f = frames[i % frames.length]!;
      try {
        await peer.sendFrame(codec, { data: f.data, ptsMs: pts });
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 33));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** A webcam session over socket.io, connected, sending `codec` frames of `width` x `height`. */
export async function liveSession(
  url: string,
  opts: { codec: 'vp8' | 'h264'; width?: number; height?: number; modelId?: string; frames?: TestFrame[] },
): Promise<LivePeer> {
  const socket = await connect(url);
  const peer = new BrowserPeer({ codecs: [opts.codec] });
  const errors: WireError[] = [];
  socket.on('session:error', (e) => errors.push(e));
  const closed = new Promise<CloseReason>((resolve) => socket.once('session:closed', (c) => resolve(c.reason)));
  const res = await start(socket, { offerSdp: await peer.createOffer(), modelId: opts.modelId ?? 'invert', smoothing: 0 });
  if (!res.ok) {
    socket.disconnect();
    await peer.close();
    assert.fail(`session start failed: ${res.error.code}: ${res.error.message}`);
  }
  await peer.acceptAnswer(res.answerSdp);
  await peer.connected();
  const sender = pump(peer, opts.codec, opts.frames ?? testFrames(opts.codec, opts.width ?? 320, opts.height ?? 240));
  return {
    socket,
    peer,
    info: res,
    errors,
    closed,
    received: () => peer.received.length,
    close: async () => {
      await sender.stop();
      socket.disconnect();
      await peer.close();
    },
  };
}

/** Resolves true once `live` has received `more` frames beyond what it had when called. */
export async function keepsReceiving(live: LivePeer, more = 10, timeoutMs = 20_000): Promise<boolean> {
  const before = live.received();
  return waitFor(() => live.received() >= before + more, timeoutMs);
}

/**
 * Fault injection into one session's real stages: the VP8 decoder and encoder (the faulty session
 * speaks VP8, the healthy one H.264), the first RGB converter and the first model loaded (the
 * faulty session starts first). Each armed stage fails once its object has been used `after` times.
 */
export function faults(stage: LiveStage, after = 5): AppHooks & { fired(): boolean } {
  let fired = false;
  let convertersMade = 0;
  let modelsLoaded = 0;
  const boom = (what: string) => {
    fired = true;
    // A plain Error: what a bug in a stage looks like, not one of our typed errors.
    return new Error(`injected ${what} failure at /srv/cyclestream/secret/path.ts`);
  };
  const codecs: LiveCodecs = {
    createDecoder(options) {
      const decoder = FFMPEG_CODECS.createDecoder(options);
      if (stage !== 'decode' || options.codec !== 'vp8') return decoder;
      let n = 0;
      return Object.assign(Object.create(decoder) as typeof decoder, {
        decode: async (...args: Parameters<typeof decoder.decode>) => {
          if (++n > after) throw boom('decode');
          return decoder.decode(...args);
        },
        close: () => decoder.close(),
      });
    },
    createEncoder(options) {
      const encoder = FFMPEG_CODECS.createEncoder(options);
      if ((stage !== 'encode' && stage !== 'send') || options.codec !== 'vp8') return encoder;
      let n = 0;
      return Object.assign(Object.create(encoder) as typeof encoder, {
        encode: async (...args: Parameters<typeof encoder.encode>) => {
          const packets = await encoder.encode(...args);
          if (++n <= after) return packets;
          if (stage === 'encode') throw boom('encode');
          fired = true;
          // What a broken encoder could hand the packetizer: an empty frame.
          return packets.map((p) => ({ ...p, data: Buffer.alloc(0) }));
        },
        close: () => encoder.close(),
      });
    },
    createConverter() {
      const converter = FFMPEG_CODECS.createConverter();
      if (stage !== 'toRgb' || convertersMade++ > 0) return converter;
      let n = 0;
      return Object.assign(Object.create(converter) as typeof converter, {
        toRgb: (...args: Parameters<typeof converter.toRgb>) => {
          if (++n > after) throw boom('toRgb');
          return converter.toRgb(...args);
        },
        fromRgb: (...args: Parameters<typeof converter.fromRgb>) => converter.fromRgb(...args),
        close: () => converter.close(),
      });
    },
  };
  const wrapInferenceHost = (host: InferenceHost): InferenceHost =>
    Object.assign(Object.create(host) as InferenceHost, {
      loadModel: async (...args: Parameters<InferenceHost['loadModel']>) => {
        const generator = await host.loadModel(...args);
        if (stage !== 'model' || modelsLoaded++ > 0) return generator;
        let n = 0;
        return Object.assign(Object.create(generator) as typeof generator, {
          run: async (...runArgs: Parameters<typeof generator.run>) => {
            if (++n > after) throw boom('model');
            return generator.run(...runArgs);
          },
          warmup: (w: number, h: number) => generator.warmup(w, h),
          stats: () => generator.stats(),
          close: () => generator.close(),
        });
      },
      openSessions: () => host.openSessions(),
      modelRuns: () => host.modelRuns(),
      close: () => host.close(),
    });
  return { codecs, wrapInferenceHost, fired: () => fired };
}

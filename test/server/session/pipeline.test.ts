/**
 * The server's whole media path without a browser: a werift peer plays the browser, sends real
 * encoded frames, and decodes what comes back. Covers H.264 both ways, and a portrait camera
 * being scaled down to fit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, startTestApp, waitFor, type TestSocket } from '../../helpers/app.js';
import { BrowserPeer } from '../webrtc/browser-peer.js';
import { encodeFrames } from '../webrtc/encode.js';
import { createRgbConverter, createVideoDecoder } from '../../../server/codec/index.js';
import type { SessionInfo, VideoCodecName, WireError } from '../../../server/contract/index.js';
import { allocRgb, type RgbImage } from '../../../server/shared/index.js';

async function startSession(socket: TestSocket, offerSdp: string, modelId: string): Promise<SessionInfo> {
  const res = await new Promise<({ ok: true } & SessionInfo) | { ok: false; error: WireError }>((resolve) =>
    socket.emit('session:start', { offerSdp, modelId, smoothing: 0 }, resolve),
  );
  if (!res.ok) throw new Error(`${res.error.code}: ${res.error.message}`);
  return res;
}

async function roundTrip(codec: VideoCodecName, width: number, height: number, count: number, minBack = 3) {
  const srv = await startTestApp();
  const socket = await connect(srv.url);
  const peer = new BrowserPeer({ codecs: [codec] });
  try {
    const info = await startSession(socket, await peer.createOffer(), 'invert');
    assert.equal(info.codec, codec);
    await peer.acceptAnswer(info.answerSdp);
    await peer.connected();
    const sent = encodeFrames({ codec, width, height, count });
    for (const f of sent) {
      await peer.sendFrame(codec, f);
      await new Promise((r) => setTimeout(r, 33));
    }
    const got = await waitFor(() => peer.received.length >= minBack, 10_000);
    assert.ok(got, `received ${peer.received.length} frames back`);
    return { sent, received: [...peer.received], health: () => srv.app.health() };
  } finally {
    await new Promise((resolve) => socket.emit('session:stop', resolve));
    socket.disconnect();
    await peer.close();
    await srv.close();
  }
}

/** Decodes every frame it can into RGB copies (decoded frames are only valid until the next decode). */
async function decodeAll(codec: VideoCodecName, frames: { data: Buffer }[]): Promise<RgbImage[]> {
  await using dec = createVideoDecoder({ codec });
  await using rgb = createRgbConverter();
  const out: RgbImage[] = [];
  for (const f of frames) {
    let decoded;
    try {
      decoded = await dec.decode(f.data);
    } catch {
      continue; // frames before the first keyframe that reached us cannot decode
    }
    for (const d of decoded) out.push(rgb.toRgb(d.frame, d.width, d.height, allocRgb(d.width, d.height)));
  }
  return out;
}

test('H.264 both ways: the browser-side peer gets the inverted picture back', { timeout: 60_000 }, async () => {
  const { sent, received } = await roundTrip('h264', 320, 240, 30);
  const inFrames = await decodeAll('h264', sent);
  const outFrames = await decodeAll('h264', received);
  assert.ok(outFrames.length >= 3, `decoded ${outFrames.length} output frames`);
  const out = outFrames[outFrames.length - 1]!;
  assert.deepEqual([out.width, out.height], [320, 240]);
  // Find the input frame that the output inverts best: latency may be a few frames.
  let best = Infinity;
  for (const img of inFrames) {
    let sum = 0;
    for (let i = 0; i < img.data.length; i++) sum += Math.abs(out.data[i]! - (255 - img.data[i]!));
    best = Math.min(best, sum / img.data.length);
  }
  assert.ok(best < 12, `mean abs error vs inverted input: ${best.toFixed(1)}`);
});

test('a portrait camera within the limits either way round is taken, and comes back scaled to fit, aspect kept', { timeout: 90_000 }, async () => {
  // 1080x1920 fits MAX_INPUT 1920x1080 turned upright; larger streams are refused before decoding
  // (test/security/frame-size.test.ts). Encoding it on a busy 2-core machine is slow, so
  // latest-frame-wins may drop some.
  const { received } = await roundTrip('vp8', 1080, 1920, 12, 2);
  const outFrames = await decodeAll('vp8', received);
  assert.ok(outFrames.length > 0);
  for (const f of outFrames) assert.deepEqual([f.width, f.height], [606, 1080]);
});

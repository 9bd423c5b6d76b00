/**
 * Issue 12 §3, live frame size before decoding. Class: a stream whose key frames announce a
 * picture over MAX_INPUT_WIDTH_PX x MAX_INPUT_HEIGHT_PX (an 8192x8192 key frame cost 235 MB to
 * decode). The size is read from the VP8 key frame header and the H.264 SPS (Exp-Golomb) and the
 * frame is dropped before any decoder exists for it.
 *
 * Frames: real VP8/H.264 from libvpx/libx264 (test/server/webrtc/encode.ts); real High-profile
 * SPSs from the avcC boxes of ../shared/datasets/videos (libx264, see its README); SPSs that no
 * camera here produces (interlaced, 4:2:2, scaling lists, POC type 1) are written bit by bit below.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ExpGolombReader, h264SpsSize, vp8KeyframeSize } from '../../server/codec/index.js';
import { FrameSizeGate, announcedSize, fitsInputLimits } from '../../server/session/index.js';
import { splitAnnexB } from '../../server/webrtc/index.js';
import { CodecError } from '../../server/shared/errors.js';
import { connect, startTestApp, waitFor } from '../helpers/app.js';
import { VIDEOS_DIR } from '../helpers/paths.js';
import { BrowserPeer } from '../server/webrtc/browser-peer.js';
import { encodeFrames } from '../server/webrtc/encode.js';
import { pump, start } from './helpers.js';
import type { WireError } from '../../server/contract/index.js';

const LIMITS = { maxWidthPx: 1920, maxHeightPx: 1080 };

function spsOf(accessUnit: Buffer): Buffer {
  const sps = splitAnnexB(accessUnit).find((nal) => (nal[0]! & 0x1f) === 7);
  assert.ok(sps, 'the key frame carries an SPS');
  return sps;
}

/** The first SPS in an mp4's avcC box (ISO 14496-15 §5.2.4.1). */
function avcCSps(file: string): Buffer {
  const mp4 = readFileSync(path.join(VIDEOS_DIR, file));
  const at = mp4.indexOf('avcC');
  assert.ok(at > 0, `${file} has an avcC box`);
  const cfg = at + 4;
  assert.ok((mp4[cfg + 5]! & 0x1f) >= 1, 'at least one SPS');
  const length = mp4.readUInt16BE(cfg + 6);
  return mp4.subarray(cfg + 8, cfg + 8 + length);
}

/** Writes H.264 syntax elements and escapes the result as a NAL unit (00 00 0x -> 00 00 03 0x). */
class BitWriter {
  readonly #bits: number[] = [];
  u(n: number, v: number): this {
    for (let i = n - 1; i >= 0; i--) this.#bits.push(Math.floor(v / 2 ** i) % 2);
    return this;
  }
  ue(v: number): this {
    const len = Math.floor(Math.log2(v + 1));
    return this.u(len, 0).u(len + 1, v + 1);
  }
  se(v: number): this {
    return this.ue(v > 0 ? 2 * v - 1 : -2 * v);
  }
  nal(type: number): Buffer {
    const bits = [...this.#bits, 1];
    while (bits.length % 8) bits.push(0);
    const raw = [0x60 | type];
    for (let i = 0; i < bits.length; i += 8) raw.push(parseInt(bits.slice(i, i + 8).join(''), 2));
    const out: number[] = [];
    let zeros = 0;
    for (const b of raw) {
      if (zeros >= 2 && b <= 3) {
        out.push(3);
        zeros = 0;
      }
      out.push(b);
      zeros = b === 0 ? zeros + 1 : 0;
    }
    return Buffer.from(out);
  }
}

describe('VP8 key frame header', () => {
  const frames = encodeFrames({ codec: 'vp8', width: 320, height: 240, count: 3 });

  it('gives the size of a real key frame, and null for an inter frame', () => {
    assert.deepEqual(vp8KeyframeSize(frames[0]!.data), { width: 320, height: 240, codedWidth: 320, codedHeight: 240 });
    assert.equal(vp8KeyframeSize(frames[1]!.data), null);
  });

  it('reads other real sizes, odd ones included', () => {
    for (const [w, h] of [[1280, 720], [642, 362], [1920, 1080]] as const) {
      const [key] = encodeFrames({ codec: 'vp8', width: w, height: h, count: 1 });
      assert.deepEqual(vp8KeyframeSize(key!.data), { width: w, height: h, codedWidth: w, codedHeight: h });
    }
  });

  it('refuses malformed headers with CodecError', () => {
    const key = Buffer.from(frames[0]!.data);
    assert.throws(() => vp8KeyframeSize(key.subarray(0, 9)), CodecError);
    assert.throws(() => vp8KeyframeSize(key.subarray(0, 2)), CodecError);
    const noStartCode = Buffer.from(key);
    noStartCode[4] = 0x02;
    assert.throws(() => vp8KeyframeSize(noStartCode), CodecError);
  });
});

describe('H.264 SPS', () => {
  it('gives the size of real baseline key frames, cropping included', () => {
    for (const [w, h, cw, ch] of [[320, 240, 320, 240], [1920, 1080, 1920, 1088], [1080, 1920, 1088, 1920], [642, 362, 656, 368]] as const) {
      const [key] = encodeFrames({ codec: 'h264', width: w, height: h, count: 1 });
      assert.deepEqual(h264SpsSize(spsOf(key!.data)), { width: w, height: h, codedWidth: cw, codedHeight: ch }, `${w}x${h}`);
    }
  });

  it('reads real High-profile SPSs (chroma format, bit depths) from the shared mp4s', () => {
    assert.deepEqual(h264SpsSize(avcCSps('davis-horsejump-high.mp4')), { width: 854, height: 480, codedWidth: 864, codedHeight: 480 });
    assert.deepEqual(h264SpsSize(avcCSps('horse-rider-desert.mp4')), { width: 720, height: 404, codedWidth: 720, codedHeight: 416 });
  });

  it('reads an interlaced 4:2:2 High SPS with scaling lists and POC type 1', () => {
    const sps = new BitWriter()
      .u(8, 122).u(8, 0).u(8, 40).ue(0) // High 4:2:2, level 4.0, id 0
      .ue(2).ue(0).ue(0).u(1, 0) // chroma_format_idc 2, 8-bit, no bypass
      .u(1, 1) // seq_scaling_matrix_present_flag
      .u(1, 1);
    for (let j = 0; j < 16; j++) sps.se(0); // list 0: 16 deltas
    sps.u(1, 0).u(1, 0).u(1, 0).u(1, 0).u(1, 0); // lists 1-5 absent
    sps.u(1, 1).se(-8); // list 6 (8x8): a delta to 0 ends it at once
    sps.u(1, 0); // list 7 absent
    sps.ue(0).ue(1).u(1, 0).se(-3).se(2).ue(3).se(1).se(-1).se(5); // frame_num, POC type 1 with a 3-entry cycle
    sps.ue(4).u(1, 0).ue(119).ue(33).u(1, 0).u(1, 1).u(1, 1); // refs, 120x34 MBs, field coding, adaptive, direct 8x8
    sps.u(1, 1).ue(0).ue(2).ue(0).ue(4); // cropping: right 2 (x2 for 4:2:2), bottom 4 (x2 for fields)
    assert.deepEqual(h264SpsSize(sps.nal(7)), { width: 1916, height: 1080, codedWidth: 1920, codedHeight: 1088 });
  });

  it('skips emulation-prevention bytes', () => {
    // level 0 and a 6-zero Exp-Golomb code make 00 00 02 in the RBSP: it must be escaped to 00 00 03 02.
    const nal = new BitWriter().u(8, 66).u(8, 0).u(8, 0).ue(63).ue(0).ue(2).ue(1).u(1, 0).ue(39).ue(29).u(1, 1).u(1, 1).u(1, 0).nal(7);
    assert.ok(nal.includes(Buffer.from([0, 0, 3])), 'the test SPS has an emulation-prevention byte');
    assert.deepEqual(h264SpsSize(nal), { width: 640, height: 480, codedWidth: 640, codedHeight: 480 });
  });

  it('refuses malformed SPSs with CodecError', () => {
    const [key] = encodeFrames({ codec: 'h264', width: 320, height: 240, count: 1 });
    const sps = spsOf(key!.data);
    assert.throws(() => h264SpsSize(sps.subarray(0, 6)), CodecError, 'truncated');
    assert.throws(() => h264SpsSize(Buffer.from([0x67, 66, 0, 30, 0, 0, 0, 0, 0, 1])), CodecError, 'Exp-Golomb code over 32 bits');
    const longCycle = new BitWriter().u(8, 66).u(8, 0).u(8, 30).ue(0).ue(0).ue(1).u(1, 0).se(0).se(0).ue(300).nal(7);
    assert.throws(() => h264SpsSize(longCycle), /at most 255/);
    const cropAll = new BitWriter().u(8, 66).u(8, 0).u(8, 30).ue(0).ue(0).ue(2).ue(1).u(1, 0).ue(0).ue(0).u(1, 1).u(1, 1).u(1, 1).ue(8).ue(8).ue(0).ue(0).nal(7);
    assert.throws(() => h264SpsSize(cropAll), /to nothing/);
    assert.throws(() => h264SpsSize(Buffer.from([0x68, 0, 0, 0])), CodecError, 'a PPS is not an SPS');
  });

  it('reads Exp-Golomb codes at the 32-bit edge', () => {
    const bits = new BitWriter().ue(2 ** 32 - 2).se(-(2 ** 30)).nal(7);
    const r = new ExpGolombReader(bits, 1);
    assert.equal(r.ue(), 2 ** 32 - 2);
    assert.equal(r.se(), -(2 ** 30));
  });
});

describe('the gate', () => {
  it('fits either way round, allowing whole macroblocks', () => {
    assert.equal(fitsInputLimits({ width: 1920, height: 1080, codedWidth: 1920, codedHeight: 1088 }, LIMITS), true);
    assert.equal(fitsInputLimits({ width: 1080, height: 1920, codedWidth: 1088, codedHeight: 1920 }, LIMITS), true);
    assert.equal(fitsInputLimits({ width: 1922, height: 1080, codedWidth: 1936, codedHeight: 1088 }, LIMITS), false);
    // A tiny cropped picture on a huge coded frame costs the coded size: refused.
    assert.equal(fitsInputLimits({ width: 320, height: 240, codedWidth: 8192, codedHeight: 8192 }, LIMITS), false);
  });

  it('drops a too-large key frame and every frame after it until a key frame that fits', () => {
    const gate = new FrameSizeGate({ maxWidthPx: 640, maxHeightPx: 480 });
    const big = encodeFrames({ codec: 'h264', width: 800, height: 600, count: 2 });
    const small = encodeFrames({ codec: 'h264', width: 320, height: 240, count: 2 });
    const verdict = gate.admit({ codec: 'h264', data: big[0]!.data });
    assert.equal(verdict.pass, false);
    assert.equal(!verdict.pass && verdict.reason, 'too-large');
    assert.deepEqual(gate.admit({ codec: 'h264', data: big[1]!.data }), { pass: false, reason: 'waiting' });
    assert.deepEqual(gate.admit({ codec: 'h264', data: small[0]!.data }), { pass: true });
    assert.deepEqual(gate.admit({ codec: 'h264', data: small[1]!.data }), { pass: true });
    const junk = gate.admit({ codec: 'h264', data: Buffer.from([1, 2, 3, 4]) });
    assert.equal(!junk.pass && junk.reason, 'malformed');
    assert.equal(announcedSize({ codec: 'h264', data: small[1]!.data }), null, 'a P frame announces no size');
  });
});

/** A real 320x240 VP8 key frame whose header is rewritten to announce 8192x8192. */
function vp8KeyframeClaiming(width: number, height: number): Buffer {
  const [key] = encodeFrames({ codec: 'vp8', width: 320, height: 240, count: 1 });
  const data = Buffer.from(key!.data);
  data.writeUInt16LE(width, 6);
  data.writeUInt16LE(height, 8);
  return data;
}

for (const codec of ['h264', 'vp8'] as const) {
  test(`live ${codec}: a stream over MAX_INPUT_* is refused at its header (no decoder is made); one that fits is translated`, { timeout: 90_000 }, async () => {
    const srv = await startTestApp({ maxInputWidthPx: 640, maxInputHeightPx: 480 });
    const socket = await connect(srv.url);
    const peer = new BrowserPeer({ codecs: [codec] });
    const errors: WireError[] = [];
    socket.on('session:error', (e) => errors.push(e));
    try {
      const res = await start(socket, { offerSdp: await peer.createOffer(), modelId: 'invert', smoothing: 0 });
      assert.ok(res.ok, JSON.stringify(res));
      await peer.acceptAnswer(res.answerSdp);
      await peer.connected();
      const tooLarge =
        codec === 'vp8'
          ? [{ data: vp8KeyframeClaiming(8192, 8192), keyframe: true, ptsMs: 0 }]
          : encodeFrames({ codec, width: 800, height: 600, count: 10 });
      const big = pump(peer, codec, tooLarge);
      assert.ok(await waitFor(() => errors.some((e) => e.code === 'FRAME_TOO_LARGE'), 15_000), `errors: ${JSON.stringify(errors)}`);
      await big.stop();
      const refusal = errors.find((e) => e.code === 'FRAME_TOO_LARGE')!;
      assert.match(refusal.message, codec === 'vp8' ? /8192x8192/ : /800x600/);
      assert.match(refusal.message, /MAX_INPUT_WIDTH_PX/);
      assert.equal(srv.app.health().openCodecs, 0, 'no decoder was created for the refused frames');
      assert.equal(peer.received.length, 0);

      const fits = pump(peer, codec, encodeFrames({ codec, width: 320, height: 240, count: 30 }));
      try {
        assert.ok(await waitFor(() => peer.received.length >= 5, 20_000), 'a stream that fits is translated');
      } finally {
        await fits.stop();
      }
    } finally {
      socket.disconnect();
      await peer.close();
      await srv.close();
    }
  });
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createRgbConverter,
  createVideoDecoder,
  createVideoEncoder,
  setFfmpegLogLevel,
  type EncodedPacket,
  type EncoderCodecName,
} from '../../../server/codec/index.js';
import { ClosedError, CodecError } from '../../../server/shared/errors.js';
import { psnr, syntheticRgb } from './synthetic.js';

// Expected decode errors below would otherwise print FFmpeg's complaints.
setFfmpegLogLevel('quiet');

const CODECS: EncoderCodecName[] = ['vp8', 'h264'];

for (const codec of CODECS) {
  test(`${codec}: synthetic frames survive encode -> decode -> toRgb (PSNR > 30 dB)`, async () => {
    await using conv = createRgbConverter();
    await using enc = createVideoEncoder({ codec, width: 320, height: 240, fps: 30, bitrateKbps: 2000 });
    await using dec = createVideoDecoder({ codec });
    const packets: EncodedPacket[] = [];
    const worst: number[] = [];
    for (let i = 0; i < 12; i++) {
      const src = syntheticRgb(320, 240, i * 3);
      const out = await enc.encode(conv.fromRgb(src, 320, 240), { ptsMs: i * 33 });
      assert.equal(out.length, 1, 'realtime settings: one packet per frame, no lookahead');
      packets.push(...out);
      const frames = await dec.decode(out[0].data, { ptsMs: out[0].ptsMs });
      assert.equal(frames.length, 1, 'low-delay decoder: one frame per packet');
      const decoded = frames[0];
      assert.equal(decoded.width, 320);
      assert.equal(decoded.height, 240);
      assert.equal(decoded.ptsMs, i * 33);
      assert.equal(decoded.sizeChanged, i === 0);
      const rgb = conv.toRgb(decoded.frame, 320, 240);
      worst.push(psnr(src.data, rgb.data));
    }
    assert.ok(Math.min(...worst) > 30, `per-frame PSNR ${worst.map((p) => p.toFixed(1)).join(' ')}`);
    assert.equal(packets[0].keyframe, true, 'stream starts with a keyframe');
    assert.ok(packets.slice(1).every((p) => !p.keyframe), 'no unrequested keyframes');
    assert.deepEqual(
      packets.map((p) => p.ptsMs),
      packets.map((_, i) => i * 33),
    );
    const s = enc.stats();
    assert.equal(s.framesIn, 12);
    assert.equal(s.packetsOut, 12);
    assert.equal(s.keyframesOut, 1);
    assert.equal(dec.stats().framesOut, 12);
    assert.equal(dec.stats().errors, 0);
  });

  test(`${codec}: a requested keyframe comes out as a keyframe and decodes as one`, async () => {
    await using conv = createRgbConverter();
    await using enc = createVideoEncoder({ codec, width: 160, height: 120, fps: 30, bitrateKbps: 500 });
    await using dec = createVideoDecoder({ codec });
    const flags: boolean[] = [];
    const decodedFlags: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      const [pkt] = await enc.encode(conv.fromRgb(syntheticRgb(160, 120, i), 160, 120), { keyframe: i === 3 });
      flags.push(pkt.keyframe);
      const [frame] = await dec.decode(pkt.data);
      decodedFlags.push(frame.keyframe);
    }
    assert.deepEqual(flags, [true, false, false, true, false, false]);
    assert.deepEqual(decodedFlags, [true, false, false, true, false, false]);
    assert.equal(enc.stats().forcedKeyframes, 1);
  });

  test(`${codec}: resolution change mid-stream: encoder rebuilds, decoder reports the new size`, async () => {
    await using conv = createRgbConverter();
    await using enc = createVideoEncoder({ codec, width: 320, height: 240, fps: 30, bitrateKbps: 1000 });
    await using dec = createVideoDecoder({ codec });
    const sizes: string[] = [];
    const changed: boolean[] = [];
    const keyframes: boolean[] = [];
    const plan = [
      [320, 240],
      [320, 240],
      [160, 128],
      [160, 128],
    ] as const;
    for (const [i, [w, h]] of plan.entries()) {
      const src = syntheticRgb(w, h, i);
      const [pkt] = await enc.encode(conv.fromRgb(src, w, h));
      keyframes.push(pkt.keyframe);
      const [frame] = await dec.decode(pkt.data);
      sizes.push(`${frame.width}x${frame.height}`);
      changed.push(frame.sizeChanged);
      const rgb = conv.toRgb(frame.frame, w, h);
      assert.ok(psnr(src.data, rgb.data) > 28, `frame ${i} psnr ${psnr(src.data, rgb.data)}`);
    }
    assert.deepEqual(sizes, ['320x240', '320x240', '160x128', '160x128']);
    assert.deepEqual(changed, [true, false, true, false]);
    assert.deepEqual(keyframes, [true, false, true, false], 'a rebuilt encoder starts with a keyframe');
    assert.equal(enc.stats().reopens, 1);
    assert.equal(enc.stats().width, 160);
    assert.equal(dec.stats().sizeChanges, 2);
    assert.equal(dec.stats().width, 160);
    assert.equal(dec.stats().height, 128);
  });

  test(`${codec}: garbage and empty payloads throw CodecError, and the decoder recovers on a keyframe`, async () => {
    await using conv = createRgbConverter();
    await using enc = createVideoEncoder({ codec, width: 160, height: 120, fps: 30, bitrateKbps: 500 });
    await using dec = createVideoDecoder({ codec });
    const garbage = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7919 + 13) % 256));
    await assert.rejects(dec.decode(garbage), CodecError);
    await assert.rejects(dec.decode(new Uint8Array(0)), CodecError);
    assert.equal(dec.stats().errors, 2);

    const src = syntheticRgb(160, 120);
    const [pkt] = await enc.encode(conv.fromRgb(src, 160, 120), { keyframe: true });
    const [frame] = await dec.decode(new Uint8Array(pkt.data));
    assert.ok(psnr(src.data, conv.toRgb(frame.frame, 160, 120).data) > 30);
  });

  test(`${codec}: close is idempotent on encoder and decoder; use after close throws ClosedError`, async () => {
    const conv = createRgbConverter();
    const enc = createVideoEncoder({ codec, width: 64, height: 48, fps: 30, bitrateKbps: 200 });
    const dec = createVideoDecoder({ codec });
    const frame = conv.fromRgb(syntheticRgb(64, 48), 64, 48);
    const [pkt] = await enc.encode(frame);
    // Closing while a decode is queued waits for it rather than freeing under it.
    const pending = dec.decode(pkt.data);
    const closing = dec.close();
    assert.equal((await pending).length, 1);
    await closing;
    await dec.close();
    await dec[Symbol.asyncDispose]();
    await enc.close();
    await enc.close();
    await assert.rejects(enc.encode(frame), ClosedError);
    await assert.rejects(dec.decode(pkt.data), ClosedError);
    await conv.close();
  });
}

test('vp8 flush drains and the encoder keeps working afterwards', async () => {
  await using conv = createRgbConverter();
  await using enc = createVideoEncoder({ codec: 'vp8', width: 64, height: 48, fps: 30, bitrateKbps: 200 });
  await using dec = createVideoDecoder({ codec: 'vp8' });
  await enc.encode(conv.fromRgb(syntheticRgb(64, 48), 64, 48));
  assert.deepEqual(await enc.flush(), []);
  const [pkt] = await enc.encode(conv.fromRgb(syntheticRgb(64, 48, 1), 64, 48));
  assert.equal(pkt.keyframe, true);
  assert.equal((await dec.decode(pkt.data)).length, 1);
  assert.deepEqual(await dec.flush(), []);
});

test('encoder refuses odd sizes and out-of-range bitrates up front', () => {
  assert.throws(() => createVideoEncoder({ codec: 'vp8', width: 321, height: 240, fps: 30, bitrateKbps: 500 }), /even/);
  assert.throws(() => createVideoEncoder({ codec: 'h264', width: 320, height: 240, fps: 30, bitrateKbps: 0 }), /bitrateKbps/);
});

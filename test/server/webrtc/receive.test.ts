import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RtpHeader, RtpPacket } from 'werift';
import { PaddingFilter } from '../../../server/webrtc/padding-filter.js';
import {
  ReceivePipeline,
  type EncodedVideoFrame,
  type NeedKeyframeReason,
} from '../../../server/webrtc/receive-pipeline.js';
import type { VideoCodecName } from '../../../server/contract/index.js';
import { RtpVideoWriter } from '../../../server/webrtc/rtp-writer.js';
import { encodeFrames, type TestFrame } from './encode.js';

function packet(seq: number, payloadBytes: number): RtpPacket {
  return new RtpPacket(new RtpHeader({ sequenceNumber: seq, payloadType: 96 }), Buffer.alloc(payloadBytes, 7));
}

describe('PaddingFilter (drop padding-only packets after the jitter buffer, renumber)', () => {
  it('drops empty payloads and closes the gaps they leave', () => {
    const filter = new PaddingFilter();
    const input = [65533, 65534, 65535, 0, 1, 2, 3].map((seq, i) => packet(seq, [1, 2].includes(i) ? 0 : 10));
    const out = input.map((p) => filter.process(p));
    assert.deepEqual(
      out.map((r) => r.packet?.header.sequenceNumber),
      [65533, undefined, undefined, 65534, 65535, 0, 1],
    );
    assert.ok(out.every((r) => r.lost === 0));
    assert.deepEqual(filter.stats(), { paddingDropped: 2, packetsLost: 0, lossEvents: 0, stalePackets: 0 });
  });

  it('keeps real gaps as gaps and reports them', () => {
    const filter = new PaddingFilter();
    const out = [10, 11, 14, 15, 16].map((seq) => filter.process(packet(seq, seq === 15 ? 0 : 5)));
    assert.deepEqual(
      out.map((r) => [r.packet?.header.sequenceNumber, r.lost]),
      [
        [10, 0],
        [11, 0],
        [14, 2],
        [undefined, 0],
        [15, 0],
      ],
    );
    assert.equal(filter.stats().packetsLost, 2);
    assert.equal(filter.stats().lossEvents, 1);
  });

  it('drops stale and duplicate packets instead of moving backwards', () => {
    const filter = new PaddingFilter();
    const out = [100, 101, 99, 101, 102].map((seq) => filter.process(packet(seq, 5)));
    assert.deepEqual(
      out.map((r) => r.packet?.header.sequenceNumber),
      [100, 101, undefined, undefined, 102],
    );
    assert.equal(filter.stats().stalePackets, 2);
    assert.equal(filter.stats().lossEvents, 0);
  });
});

/** What werift hands us after SRTP: a parsed packet, with padding bytes stripped. */
function overTheWire(p: RtpPacket): RtpPacket {
  return RtpPacket.deSerialize(p.serialize());
}

/** Sender-side stream: our writer's packets, with padding-only probes inserted after some frames. */
function buildStream(
  frames: TestFrame[],
  opts: { codec: VideoCodecName; paddingAfter?: number[]; firstSeq?: number },
): { packets: RtpPacket[]; frameOfPacket: number[] } {
  const writer = new RtpVideoWriter({ codec: opts.codec, initialSequenceNumber: 0 });
  const packets: RtpPacket[] = [];
  const frameOfPacket: number[] = [];
  let seq = opts.firstSeq ?? 65500;
  frames.forEach((frame, index) => {
    for (const p of writer.write({ data: frame.data, ptsMs: frame.ptsMs })) {
      p.header.sequenceNumber = seq++ & 0xffff;
      packets.push(p);
      frameOfPacket.push(index);
    }
    if (opts.paddingAfter?.includes(index)) {
      const last = packets[packets.length - 1]!;
      for (let k = 0; k < 3; k++) {
        const header = new RtpHeader({
          sequenceNumber: seq++ & 0xffff,
          timestamp: last.header.timestamp,
          payloadType: 96,
          padding: true,
          paddingSize: 224,
        });
        packets.push(new RtpPacket(header, Buffer.alloc(0)));
        frameOfPacket.push(-1);
      }
    }
  });
  return { packets, frameOfPacket };
}

function runPipeline(codec: VideoCodecName, packets: RtpPacket[], jitterLatencyMs = 100) {
  const frames: EncodedVideoFrame[] = [];
  const reasons: NeedKeyframeReason[] = [];
  const pipeline = new ReceivePipeline({
    codec,
    payloadType: 96,
    jitterLatencyMs,
    onFrame: (f) => frames.push(f),
    onNeedKeyframe: (r) => reasons.push(r),
  });
  for (const p of packets) pipeline.input(overTheWire(p));
  const stats = pipeline.stats();
  pipeline.destroy();
  return { frames, reasons, stats };
}

describe('ReceivePipeline (werift jitter buffer -> padding filter -> depacketizer -> key-frame gate)', () => {
  const vp8 = encodeFrames({ codec: 'vp8', width: 320, height: 240, count: 24, forceKeyframes: [12] });
  const h264 = encodeFrames({ codec: 'h264', width: 320, height: 240, count: 24, forceKeyframes: [12] });

  for (const [codec, frames] of [
    ['vp8', vp8],
    ['h264', h264],
  ] as const) {
    it(`${codec}: padding probes, reordering and a duplicate still give every frame byte-identical`, () => {
      const { packets } = buildStream(frames, { codec, paddingAfter: [0, 3, 4, 10, 20] });
      // Swap neighbours here and there and repeat one packet, as a network would.
      for (const i of [5, 17, 30, 41]) [packets[i], packets[i + 1]] = [packets[i + 1]!, packets[i]!];
      packets.splice(25, 0, packets[24]!);
      const { frames: out, reasons, stats } = runPipeline(codec, packets);
      assert.equal(out.length, frames.length);
      out.forEach((f, i) => {
        const expected = frames[i]!;
        if (codec === 'vp8') assert.ok(f.data.equals(expected.data), `frame ${i} differs`);
        else assert.ok(f.data.equals(normalizeAnnexB(expected.data)), `access unit ${i} differs`);
        assert.equal(f.keyframe, expected.keyframe, `key frame flag of frame ${i}`);
        assert.equal(f.codec, codec);
      });
      assert.equal(out[1]!.rtpTimestamp - out[0]!.rtpTimestamp, Math.round((frames[1]!.ptsMs - frames[0]!.ptsMs) * 90));
      assert.equal(stats.paddingDropped, 15);
      assert.equal(stats.packetsLost, 0);
      assert.deepEqual(reasons, []);
    });
  }

  it('without the padding filter werift would have seen the probes (negative control)', () => {
    const { packets } = buildStream(vp8.slice(0, 3), { codec: 'vp8', paddingAfter: [0] });
    const wire = packets.map(overTheWire);
    assert.equal(wire.filter((p) => p.payload.length === 0).length, 3, 'padding-only packets arrive with empty payloads');
  });

  it('a stream that starts with delta frames waits for the key frame and emits it clean', () => {
    const { packets, frameOfPacket } = buildStream(vp8, { codec: 'vp8' });
    const from = frameOfPacket.indexOf(2);
    const { frames: out, reasons, stats } = runPipeline('vp8', packets.slice(from));
    assert.equal(out.length, 12);
    assert.ok(out[0]!.keyframe);
    assert.ok(out[0]!.data.equals(vp8[12]!.data), 'first emitted frame is exactly the key frame');
    assert.equal(stats.framesDropped, 10);
    assert.ok(reasons.length > 0 && reasons.every((r) => r === 'waiting-for-keyframe'));
  });

  it('a lost packet asks for a key frame and freezes until it arrives', () => {
    const { packets, frameOfPacket } = buildStream(vp8, { codec: 'vp8' });
    const victim = frameOfPacket.indexOf(4);
    packets.splice(victim, 1);
    const { frames: out, reasons } = runPipeline('vp8', packets);
    assert.ok(reasons.includes('packet-loss'));
    const keyIndex = out.findIndex((f) => f.data.equals(vp8[12]!.data));
    assert.ok(keyIndex > 0, 'the key frame after the loss comes out');
    // Before the loss: frames 0..3 intact; after: nothing until the key frame, then everything.
    out.slice(0, keyIndex).forEach((f, i) => assert.ok(f.data.equals(vp8[i]!.data)));
    assert.equal(keyIndex, 4);
    assert.equal(out.length, 4 + 12);
    out.slice(keyIndex).forEach((f, i) => assert.ok(f.data.equals(vp8[12 + i]!.data)));
  });

  it('a late (retransmitted) packet within the jitter latency loses nothing', () => {
    const { packets, frameOfPacket } = buildStream(vp8, { codec: 'vp8' });
    const victim = frameOfPacket.indexOf(4);
    const [late] = packets.splice(victim, 1);
    packets.splice(victim + 3, 0, late!);
    const { frames: out, reasons } = runPipeline('vp8', packets, 500);
    assert.equal(out.length, vp8.length);
    assert.deepEqual(reasons, []);
  });

  it('a resolution change mid-stream passes through', () => {
    const small = encodeFrames({ codec: 'vp8', width: 160, height: 120, count: 6, seed: 50 });
    const shifted = small.map((f) => ({ ...f, ptsMs: f.ptsMs + 1000 }));
    const all = [...vp8.slice(0, 6), ...shifted];
    const { packets } = buildStream(all, { codec: 'vp8' });
    const { frames: out } = runPipeline('vp8', packets);
    assert.equal(out.length, all.length);
    out.forEach((f, i) => assert.ok(f.data.equals(all[i]!.data)));
    assert.ok(out[6]!.keyframe);
  });
});

/** werift's H.264 depacketizer writes 4-byte start codes. */
function normalizeAnnexB(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  const starts: number[] = [];
  while (i + 2 < data.length) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push(i);
      i += 3;
    } else i++;
  }
  starts.forEach((s, k) => {
    let end = k + 1 < starts.length ? starts[k + 1]! : data.length;
    while (end > s + 3 && data[end - 1] === 0) end--;
    parts.push(Buffer.from([0, 0, 0, 1]), data.subarray(s + 3, end));
  });
  return Buffer.concat(parts);
}

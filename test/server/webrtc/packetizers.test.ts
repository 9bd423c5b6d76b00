import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { H264RtpPayload, Vp8RtpPayload, dePacketizeRtpPackets, type RtpPacket } from 'werift';
import { CodecError } from '../../../server/shared/errors.js';
import { H264Packetizer, isH264Keyframe, splitAnnexB } from '../../../server/webrtc/h264-packetizer.js';
import { RtpVideoWriter } from '../../../server/webrtc/rtp-writer.js';
import { Vp8Packetizer, isVp8Keyframe } from '../../../server/webrtc/vp8-packetizer.js';
import { encodeFrames } from './encode.js';

const MAX = 1160;

/** Random bytes shaped like a VP8 frame: bit 0 of the first byte is the inverse key-frame flag. */
function vp8Frame(size: number, keyframe: boolean): Buffer {
  const data = randomBytes(size);
  data[0] = keyframe ? data[0]! & 0xfe : data[0]! | 0x01;
  return data;
}

/** A NAL unit body without any 00 00 0x run, so it needs no emulation prevention. */
function nal(header: number, size: number): Buffer {
  const body = randomBytes(size);
  body[0] = header;
  for (let i = 1; i < body.length; i++) if (body[i] === 0) body[i] = 0x5a;
  return body;
}

function annexB(...nals: Buffer[]): Buffer {
  const startCode = Buffer.from([0, 0, 0, 1]);
  return Buffer.concat(nals.flatMap((n) => [startCode, n]));
}

function checkSequence(packets: RtpPacket[], firstSeq: number): void {
  packets.forEach((p, i) => {
    assert.equal(p.header.sequenceNumber, (firstSeq + i) & 0xffff, `sequence number of packet ${i}`);
    assert.equal(p.header.marker, i === packets.length - 1, `marker of packet ${i}`);
    assert.ok(p.payload.length <= MAX, `payload ${i} is ${p.payload.length} bytes`);
  });
}

describe('VP8 packetizer (RFC 7741)', () => {
  const sizes = [1, 10, MAX - 4, MAX - 3, MAX + 1, 2 * MAX, 100_000];
  for (const withPictureId of [true, false]) {
    for (const size of sizes) {
      it(`round-trips a ${size}-byte frame through werift's depacketizer (pictureId ${withPictureId})`, () => {
        const frame = vp8Frame(size, size % 2 === 0);
        const writer = new RtpVideoWriter({ codec: 'vp8', initialSequenceNumber: 65530 });
        const packets = writer.write({ data: frame, ptsMs: 0 });
        checkSequence(packets, 65530);
        // Re-run through a packetizer with the chosen descriptor form for the byte check.
        const payloads = new Vp8Packetizer({ pictureId: withPictureId, maxPayloadBytes: MAX }).packetize(frame);
        assert.equal(payloads.length, Math.ceil(size / (MAX - (withPictureId ? 4 : 1))));
        const parsed = payloads.map((p) => Vp8RtpPayload.deSerialize(p));
        parsed.forEach((p, i) => {
          assert.equal(p.sBit, i === 0 ? 1 : 0);
          assert.equal(p.pid, 0);
          assert.equal(p.xBit, withPictureId ? 1 : 0);
        });
        assert.equal(parsed[0]!.isKeyframe, isVp8Keyframe(frame));
        const out = dePacketizeRtpPackets('VP8', packets);
        assert.ok(out.data.equals(frame), 'depacketized frame differs');
        assert.equal(out.isKeyframe, isVp8Keyframe(frame));
      });
    }
  }

  it('increments the 15-bit PictureID per frame and wraps', () => {
    const p = new Vp8Packetizer({ initialPictureId: 0x7fff });
    const a = Vp8RtpPayload.deSerialize(p.packetize(vp8Frame(50, true))[0]!);
    const b = Vp8RtpPayload.deSerialize(p.packetize(vp8Frame(50, false))[0]!);
    assert.equal(a.pictureId, 0x7fff);
    assert.equal(b.pictureId, 0);
  });

  it('round-trips real libvpx frames, key frames flagged', () => {
    const frames = encodeFrames({ codec: 'vp8', width: 320, height: 240, count: 8, forceKeyframes: [5] });
    const writer = new RtpVideoWriter({ codec: 'vp8', initialSequenceNumber: 100 });
    let seq = 100;
    for (const frame of frames) {
      const packets = writer.write({ data: frame.data, ptsMs: frame.ptsMs });
      checkSequence(packets, seq);
      seq += packets.length;
      const out = dePacketizeRtpPackets('VP8', packets);
      assert.ok(out.data.equals(frame.data));
      assert.equal(isVp8Keyframe(frame.data), frame.keyframe);
      assert.equal(out.isKeyframe, frame.keyframe);
    }
  });

  it('refuses an empty frame with a CodecError', () => {
    assert.throws(() => new Vp8Packetizer().packetize(Buffer.alloc(0)), CodecError);
  });
});

describe('H.264 packetizer (RFC 6184, packetization-mode 1)', () => {
  const sps = nal(0x67, 20);
  const pps = nal(0x68, 4);
  const cases: [string, Buffer[]][] = [
    ['tiny single NAL', [nal(0x41, 3)]],
    ['NAL exactly at the payload limit', [nal(0x41, MAX)]],
    ['NAL just over the limit (FU-A)', [nal(0x41, MAX + 1)]],
    ['SPS + PPS + 100 KB IDR', [sps, pps, nal(0x65, 100_000)]],
    ['SPS + PPS + small IDR (one STAP-A)', [sps, pps, nal(0x65, 300)]],
    ['several slices of mixed sizes', [nal(0x41, 700), nal(0x41, 700), nal(0x41, 5000), nal(0x01, 2)]],
  ];
  for (const aggregate of [true, false]) {
    for (const [name, nals] of cases) {
      it(`${name} comes back byte-identical (STAP-A ${aggregate ? 'on' : 'off'})`, () => {
        const au = annexB(...nals);
        const packetizer = new H264Packetizer({ maxPayloadBytes: MAX, aggregate });
        const payloads = packetizer.packetize(au);
        for (const p of payloads) assert.ok(p.length <= MAX);
        const types = payloads.map((p) => p[0]! & 0x1f);
        if (!aggregate) assert.ok(!types.includes(24), 'no STAP-A when aggregation is off');
        if (nals.some((n) => n.length > MAX)) assert.ok(types.includes(28), 'large NAL units go as FU-A');
        const writer = new RtpVideoWriter({ codec: 'h264', initialSequenceNumber: 0xfffe, maxPayloadBytes: MAX });
        const packets = writer.write({ data: au, ptsMs: 5 });
        checkSequence(packets, 0xfffe);
        const out = dePacketizeRtpPackets('MPEG4/ISO/AVC', packets);
        assert.ok(out.data.equals(au), 'depacketized access unit differs');
        assert.equal(isH264Keyframe(out.data), nals.some((n) => (n[0]! & 0x1f) === 5));
      });
    }
  }

  it('puts a run of small NAL units in one STAP-A', () => {
    const idr = nal(0x65, 300);
    const payloads = new H264Packetizer({ maxPayloadBytes: MAX }).packetize(annexB(sps, pps, idr));
    assert.equal(payloads.length, 1);
    assert.equal(payloads[0]![0]! & 0x1f, 24);
    assert.equal(payloads[0]![0]! & 0x60, 0x60, 'STAP-A NRI is the highest of its NAL units');
    const parsed = H264RtpPayload.deSerialize(payloads[0]!);
    assert.ok(parsed.payload.equals(annexB(sps, pps, idr)));
  });

  it('sets FU-A start/end bits and keeps the NAL type', () => {
    const payloads = new H264Packetizer({ maxPayloadBytes: MAX }).packetize(annexB(nal(0x65, 5000)));
    assert.ok(payloads.length >= 5);
    payloads.forEach((p, i) => {
      assert.equal(p[0]! & 0x1f, 28);
      assert.equal(p[0]! & 0x60, 0x60, 'NRI copied from the NAL header');
      assert.equal(p[1]! & 0x1f, 5);
      assert.equal(Boolean(p[1]! & 0x80), i === 0, 'S bit');
      assert.equal(Boolean(p[1]! & 0x40), i === payloads.length - 1, 'E bit');
    });
  });

  it('accepts 3-byte start codes and trailing zeros', () => {
    const a = nal(0x67, 10);
    const b = nal(0x65, 2000);
    const au = Buffer.concat([Buffer.from([0, 0, 1]), a, Buffer.from([0, 0, 0, 1]), b, Buffer.from([0, 0])]);
    const nals = splitAnnexB(au);
    assert.deepEqual(nals.map((n) => n.length), [a.length, b.length]);
    assert.ok(nals[0]!.equals(a) && nals[1]!.equals(b));
    const out = dePacketizeRtpPackets('MPEG4/ISO/AVC', new RtpVideoWriter({ codec: 'h264' }).write({ data: au, ptsMs: 0 }));
    assert.ok(out.data.equals(annexB(a, b)));
  });

  it('rejects input that is not Annex-B', () => {
    const avcc = Buffer.concat([Buffer.from([0, 0, 0, 5]), nal(0x65, 5)]);
    assert.throws(() => new H264Packetizer().packetize(avcc), CodecError);
    assert.throws(() => new H264Packetizer().packetize(Buffer.alloc(0)), CodecError);
  });

  it('round-trips real libx264 access units', () => {
    const frames = encodeFrames({ codec: 'h264', width: 320, height: 240, count: 8, forceKeyframes: [4] });
    const writer = new RtpVideoWriter({ codec: 'h264', initialSequenceNumber: 9 });
    let seq = 9;
    for (const frame of frames) {
      const packets = writer.write({ data: frame.data, ptsMs: frame.ptsMs });
      checkSequence(packets, seq);
      seq += packets.length;
      const out = dePacketizeRtpPackets('MPEG4/ISO/AVC', packets);
      // werift writes 4-byte start codes; compare NAL units so x264's start code choice does not matter.
      assert.deepEqual(splitAnnexB(out.data), splitAnnexB(frame.data));
      assert.equal(isH264Keyframe(frame.data), frame.keyframe);
    }
  });
});

describe('RTP timestamps', () => {
  it('map ptsMs to 90 kHz from a random base and always rise', () => {
    const writer = new RtpVideoWriter({ codec: 'vp8', initialTimestamp: 0xffff_ff00 });
    const ts = [0, 33, 33, 20, 100].map((ptsMs) => writer.write({ data: vp8Frame(10, true), ptsMs })[0]!.header.timestamp);
    assert.deepEqual(ts, [0xffff_ff00, (0xffff_ff00 + 2970) >>> 0, (0xffff_ff00 + 2971) >>> 0, (0xffff_ff00 + 2972) >>> 0, (0xffff_ff00 + 9000) >>> 0]);
  });
});

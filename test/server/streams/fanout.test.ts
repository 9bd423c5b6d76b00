/**
 * VideoFanout with fake sinks: one packetization per frame forwarded to every sink, joining at a
 * key frame (and asking for one), a header object of its own per sink (werift rewrites headers in
 * place) over the same payload bytes, continuous sequence numbers per sink, a slow sink cut back
 * to the next key frame, a refused key frame, removal, flush() and stats().
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RtpPacket } from 'werift';
import { VideoFanout, type FanoutFrame, type RtpSink } from '../../../server/streams/fanout.js';

interface Sent {
  packets: readonly RtpPacket[];
  keyframe: boolean;
}

/** A sink that records what it got; `reply` decides what each sendRtp returns. */
function fakeSink(id: string, reply: () => Promise<boolean> = async () => true): RtpSink & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    id,
    sent,
    sendRtp(packets, keyframe) {
      sent.push({ packets, keyframe });
      return reply();
    },
  };
}

/** A sink whose sends stay pending until `release()`. */
function slowSink(id: string): RtpSink & { sent: Sent[]; release(value?: boolean): void } {
  const waiting: ((v: boolean) => void)[] = [];
  const sink = fakeSink(id, () => new Promise<boolean>((resolve) => waiting.push(resolve)));
  return Object.assign(sink, {
    release(value = true) {
      for (const resolve of waiting.splice(0)) resolve(value);
    },
  });
}

/** Lets queued promise callbacks run (event-loop ordering, not timing). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

let pts = 0;
/** A VP8 "frame" of `size` bytes: 30 bytes make 3 packets with maxPayloadBytes 14 (4-byte descriptor). */
function vp8(keyframe: boolean, size = 30): FanoutFrame {
  const data = Buffer.alloc(size, keyframe ? 0xa0 : 0xa1);
  return { data, keyframe, ptsMs: (pts += 33) };
}

function makeFanout(opts: { maxPendingFrames?: number } = {}) {
  const reasons: string[] = [];
  const fanout = new VideoFanout({
    codec: 'vp8',
    maxPayloadBytes: 14,
    onKeyframeNeeded: (r) => reasons.push(r),
    ...opts,
  });
  return { fanout, reasons };
}

const seqs = (sent: Sent[]) => sent.flatMap((s) => s.packets.map((p) => p.header.sequenceNumber));
const sinkStats = (fanout: VideoFanout, id: string) => fanout.stats().sinks.find((s) => s.id === id)!;

describe('VideoFanout', () => {
  it('packetizes once per frame and forwards the packets to every sink', async () => {
    const { fanout } = makeFanout();
    const a = fakeSink('a');
    const b = fakeSink('b');
    fanout.add(a);
    fanout.add(b);
    fanout.write(vp8(true));
    fanout.write(vp8(false));
    await fanout.flush();
    assert.equal(a.sent.length, 2);
    assert.equal(b.sent.length, 2);
    assert.deepEqual(a.sent.map((s) => s.keyframe), [true, false]);
    assert.equal(a.sent[0]!.packets.length, 3);
    assert.deepEqual(seqs(a.sent), seqs(b.sent), 'one packetization: same sequence numbers');
    assert.deepEqual(fanout.stats(), {
      frames: 2,
      keyframes: 1,
      packets: 6,
      sinks: [
        { id: 'a', framesSent: 2, framesSkipped: 0, framesDropped: 0 },
        { id: 'b', framesSent: 2, framesSkipped: 0, framesDropped: 0 },
      ],
    });
  });

  it('also packetizes H.264 access units', async () => {
    const fanout = new VideoFanout({ codec: 'h264', onKeyframeNeeded: () => {} });
    const a = fakeSink('a');
    fanout.add(a);
    fanout.write({ data: Buffer.from([0, 0, 0, 1, 0x65, 1, 2, 3]), keyframe: true, ptsMs: 0 });
    fanout.write({ data: Buffer.from([0, 0, 0, 1, 0x41, 4, 5, 6]), keyframe: false, ptsMs: 33 });
    await fanout.flush();
    assert.deepEqual(
      a.sent.map((s) => s.packets.map((p) => [...p.payload])),
      [[[0x65, 1, 2, 3]], [[0x41, 4, 5, 6]]],
    );
  });

  it('a new sink asks for a key frame and gets nothing until one comes', async () => {
    const { fanout, reasons } = makeFanout();
    const a = fakeSink('a');
    fanout.add(a);
    assert.deepEqual(reasons, ['sink-joined']);
    fanout.add(a);
    assert.deepEqual(reasons, ['sink-joined'], 'adding the same sink twice is a no-op');
    assert.equal(fanout.size, 1);
    fanout.write(vp8(false));
    fanout.write(vp8(false));
    await fanout.flush();
    assert.equal(a.sent.length, 0);
    assert.equal(sinkStats(fanout, 'a').framesSkipped, 2);
    fanout.write(vp8(true));
    fanout.write(vp8(false));
    await fanout.flush();
    assert.deepEqual(a.sent.map((s) => s.keyframe), [true, false]);
    assert.deepEqual(sinkStats(fanout, 'a'), { id: 'a', framesSent: 2, framesSkipped: 2, framesDropped: 0 });
  });

  it('gives every sink its own headers over the same payload bytes', async () => {
    const { fanout } = makeFanout();
    const a = fakeSink('a');
    const b = fakeSink('b');
    fanout.add(a);
    fanout.add(b);
    fanout.write(vp8(true));
    await fanout.flush();
    const pa = a.sent[0]!.packets;
    const pb = b.sent[0]!.packets;
    for (let i = 0; i < pa.length; i++) {
      assert.notEqual(pa[i], pb[i]);
      assert.notEqual(pa[i]!.header, pb[i]!.header);
      assert.deepEqual([...pa[i]!.payload], [...pb[i]!.payload]);
    }
    // What werift's sender does to the packets of one peer connection:
    pa[0]!.header.ssrc = 1234;
    pa[0]!.header.payloadType = 102;
    assert.notEqual(pb[0]!.header.ssrc, 1234);
    assert.notEqual(pb[0]!.header.payloadType, 102);
    assert.deepEqual(
      pb.map((p) => p.header.marker),
      [false, false, true],
      'marker on the last packet of the frame',
    );
  });

  it('sequence numbers run on without gaps for a sink from its first key frame', async () => {
    const { fanout } = makeFanout();
    const early = fakeSink('early');
    const late = fakeSink('late');
    fanout.add(early);
    fanout.write(vp8(true));
    fanout.write(vp8(false));
    fanout.add(late);
    fanout.write(vp8(false)); // late skips this one
    fanout.write(vp8(true));
    fanout.write(vp8(false, 50));
    fanout.write(vp8(false, 5));
    await fanout.flush();
    for (const sink of [early, late]) {
      const s = seqs(sink.sent);
      for (let i = 1; i < s.length; i++) assert.equal(s[i], (s[i - 1]! + 1) & 0xffff, `${sink.id} packet ${i}`);
    }
    assert.equal(late.sent[0]!.keyframe, true);
    assert.equal(late.sent[0]!.packets[0]!.header.sequenceNumber, early.sent[3]!.packets[0]!.header.sequenceNumber);
    assert.equal(sinkStats(fanout, 'late').framesSkipped, 1);
  });

  it('cuts a slow sink back to the next key frame after maxPendingFrames', async () => {
    const { fanout, reasons } = makeFanout({ maxPendingFrames: 2 });
    const fast = fakeSink('fast');
    const slow = slowSink('slow');
    fanout.add(fast);
    fanout.add(slow);
    reasons.length = 0;
    // settle() after each write lets the fast sink finish its sends, as an encoder's pace would.
    const write = async (keyframe: boolean) => {
      fanout.write(vp8(keyframe));
      await settle();
    };
    await write(true); // queued, send pending
    await write(false); // queued (2 pending)
    await write(false); // over the limit: dropped, slow waits for a key frame
    assert.deepEqual(reasons, ['sink-behind']);
    await write(false); // skipped: waiting for a key frame
    assert.deepEqual(reasons, ['sink-behind'], 'asked once, not for every frame');
    assert.equal(slow.sent.length, 1, 'its sends go one after the other');
    slow.release();
    await settle();
    slow.release();
    await settle();
    assert.equal(slow.sent.length, 2);
    await write(false); // still waiting for a key frame
    await write(true); // catches up here
    slow.release();
    await fanout.flush();
    assert.deepEqual(slow.sent.map((s) => s.keyframe), [true, false, true]);
    assert.deepEqual(sinkStats(fanout, 'slow'), { id: 'slow', framesSent: 3, framesSkipped: 2, framesDropped: 1 });
    assert.deepEqual(sinkStats(fanout, 'fast'), { id: 'fast', framesSent: 6, framesSkipped: 0, framesDropped: 0 });
  });

  it('a sink that refuses a key frame waits for the next key frame', async () => {
    const { fanout } = makeFanout();
    let accept = false;
    const a = fakeSink('a', async () => accept);
    fanout.add(a);
    fanout.write(vp8(true)); // refused (e.g. the viewer is not connected yet)
    await fanout.flush();
    fanout.write(vp8(false));
    await fanout.flush();
    assert.deepEqual(a.sent.map((s) => s.keyframe), [true], 'no delta after the refused key frame');
    accept = true;
    fanout.write(vp8(true));
    fanout.write(vp8(false));
    await fanout.flush();
    assert.deepEqual(a.sent.map((s) => s.keyframe), [true, true, false]);
    assert.deepEqual(sinkStats(fanout, 'a'), { id: 'a', framesSent: 2, framesSkipped: 1, framesDropped: 0 });
  });

  it('a sink whose send throws waits for the next key frame', async () => {
    const { fanout } = makeFanout();
    let fail = true;
    const a = fakeSink('a', async () => {
      if (fail) throw new Error('socket gone');
      return true;
    });
    fanout.add(a);
    fanout.write(vp8(true));
    await fanout.flush();
    fail = false;
    fanout.write(vp8(false));
    fanout.write(vp8(true));
    await fanout.flush();
    assert.deepEqual(a.sent.map((s) => s.keyframe), [true, true]);
  });

  it('stops sending to a removed sink', async () => {
    const { fanout } = makeFanout();
    const a = fakeSink('a');
    const b = fakeSink('b');
    const removeA = fanout.add(a);
    fanout.add(b);
    fanout.write(vp8(true));
    removeA();
    assert.equal(fanout.size, 1);
    fanout.write(vp8(false));
    await fanout.flush();
    assert.equal(a.sent.length, 1);
    assert.equal(b.sent.length, 2);
    assert.deepEqual(fanout.stats().sinks.map((s) => s.id), ['b']);
    removeA(); // removing twice is harmless
    assert.equal(fanout.size, 1);
  });

  it('flush() resolves only when every queued send has finished', async () => {
    const { fanout } = makeFanout();
    const slow = slowSink('slow');
    fanout.add(slow);
    fanout.write(vp8(true));
    fanout.write(vp8(false));
    let flushed = false;
    const done = fanout.flush().then(() => {
      flushed = true;
    });
    await settle();
    assert.equal(flushed, false);
    slow.release();
    await settle();
    assert.equal(flushed, false, 'the second frame is still being sent');
    slow.release();
    await done;
    assert.equal(sinkStats(fanout, 'slow').framesSent, 2);
  });

  it('counts frames written with no sinks, and flush() of none resolves', async () => {
    const { fanout } = makeFanout();
    fanout.write(vp8(true));
    fanout.write(vp8(false, 10));
    await fanout.flush();
    assert.deepEqual(fanout.stats(), { frames: 2, keyframes: 1, packets: 4, sinks: [] });
  });
});

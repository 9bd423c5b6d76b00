/**
 * Test-only ways to drive a PeerSession: its received frames as an async iterable, and one
 * encoded frame packetized and sent. The server itself packetizes once in streams/VideoFanout
 * and sends with sendRtp; these helpers use the same RtpVideoWriter and sendRtp.
 */
import { RtpVideoWriter, type EncodedVideoFrame, type PeerSession } from '../../../server/webrtc/index.js';

/** Received frames until the session closes (or the loop breaks). Unbounded queue: tests read everything. */
export function framesOf(session: PeerSession): AsyncIterableIterator<EncodedVideoFrame> {
  const queue: EncodedVideoFrame[] = [];
  let waiter: ((result: IteratorResult<EncodedVideoFrame>) => void) | undefined;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    unsubscribe();
    waiter?.({ value: undefined, done: true });
    waiter = undefined;
  };
  const unsubscribe = session.onFrame((frame) => {
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w({ value: frame, done: false });
    } else queue.push(frame);
  });
  session.onClosed(finish);
  const iterator: AsyncIterableIterator<EncodedVideoFrame> = {
    next: () => {
      const frame = queue.shift();
      if (frame) return Promise.resolve({ value: frame, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => {
        waiter = resolve;
      });
    },
    return: () => {
      finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

const writers = new WeakMap<PeerSession, RtpVideoWriter>();

/** Packetizes one encoded frame for `session` (its own sequence numbers) and sends it. */
export function sendEncodedFrame(session: PeerSession, frame: { data: Uint8Array; keyframe: boolean; ptsMs: number }): Promise<boolean> {
  let writer = writers.get(session);
  if (!writer) {
    writer = new RtpVideoWriter({ codec: session.codec });
    writers.set(session, writer);
  }
  return session.sendRtp(writer.write(frame), frame.keyframe);
}

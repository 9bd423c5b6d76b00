/**
 * The send side of a peer connection: RTP packets that were packetized once for many peers
 * go out whole and in order, counted.
 */
import type { RTCRtpSender, RtpPacket } from 'werift';
import type { PeerSessionLogger } from './peer-session.js';

export interface PeerEgressStats {
  packetsOut: number;
  bytesOut: number;
  framesOut: number;
  keyframesOut: number;
  /** sendRtp() calls refused because the connection was not up (or closed). */
  framesNotSent: number;
}

export class PeerEgress {
  #queue: Promise<unknown> = Promise.resolve();
  readonly #counters: PeerEgressStats = { packetsOut: 0, bytesOut: 0, framesOut: 0, keyframesOut: 0, framesNotSent: 0 };

  constructor(private readonly log: PeerSessionLogger) {}

  /** `sender` is undefined when this frame cannot go out now: it is counted and refused. */
  send(sender: RTCRtpSender | undefined, packets: readonly RtpPacket[], keyframe: boolean): Promise<boolean> {
    if (!sender) {
      this.#counters.framesNotSent += 1;
      return Promise.resolve(false);
    }
    const c = this.#counters;
    const send = async (): Promise<boolean> => {
      try {
        for (const packet of packets) {
          const bytes = packet.payload.length;
          // werift keeps the packet object for NACK retransmission.
          await sender.sendRtp(packet);
          c.packetsOut += 1;
          c.bytesOut += bytes;
        }
        c.framesOut += 1;
        if (keyframe) c.keyframesOut += 1;
        return true;
      } catch (err) {
        this.log.warn({ err }, 'sending RTP failed');
        return false;
      }
    };
    // Frames go out whole and in order even when callers do not await each other.
    const result = this.#queue.then(send);
    this.#queue = result;
    return result;
  }

  /** Resolves once every frame queued so far has gone out. */
  async flush(): Promise<void> {
    await this.#queue;
  }

  stats(): PeerEgressStats {
    return { ...this.#counters };
  }
}

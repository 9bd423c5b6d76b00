/**
 * Key-frame requests from the browser for our outgoing stream: its PLIs and FIRs, and the
 * connection coming up. Browsers repeat PLIs every round trip until a key frame arrives, so
 * they are rate-limited to one event per interval; 'connected' always passes.
 */
import { PictureLossIndication, RtcpPayloadSpecificFeedback, type RtcpPacket } from 'werift';
import { RateLimiter } from './rate-limiter.js';

/** Why the browser wants a key frame from us: its PLI or FIR, or the connection just came up. */
export type KeyframeRequestSource = 'pli' | 'fir' | 'connected';

/** RFC 5104 FIR feedback message type. werift 0.24.4 parses FIR but does not export the class. */
const FIR_FORMAT = 4;
interface FirFeedback {
  mediaSsrc: number;
  fir: { ssrc: number; sequenceNumber: number }[];
}

export class KeyframeFeedback {
  plisReceived = 0;
  firsReceived = 0;
  readonly #limiter: RateLimiter;

  constructor(
    minIntervalMs: number,
    private readonly emit: (source: KeyframeRequestSource) => void,
  ) {
    this.#limiter = new RateLimiter(minIntervalMs);
  }

  /** One RTCP packet that reached our transceiver; `ourSsrc` is the SSRC we send on. */
  rtcp(packet: RtcpPacket, ourSsrc: number): void {
    if (packet.type !== RtcpPayloadSpecificFeedback.type) return;
    const feedback = (packet as RtcpPayloadSpecificFeedback).feedback;
    if (!feedback) return;
    if (feedback.count === PictureLossIndication.count && feedback.mediaSsrc === ourSsrc) {
      this.plisReceived += 1;
      this.#request('pli');
    } else if (feedback.count === FIR_FORMAT) {
      const fir = feedback as unknown as FirFeedback;
      if (fir.mediaSsrc === ourSsrc || fir.fir.some((entry) => entry.ssrc === ourSsrc)) {
        this.firsReceived += 1;
        this.#request('fir');
      }
    }
  }

  /** The connection is up for the first time: the encoder owner starts with a key frame. */
  connected(): void {
    this.emit('connected');
  }

  #request(source: KeyframeRequestSource): void {
    if (this.#limiter.tryAcquire()) this.emit(source);
  }
}

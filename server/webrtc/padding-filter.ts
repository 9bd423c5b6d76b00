import { uint16Add } from './rtp-util.js';

/** The part of werift's RtpPacket this step touches. */
export interface SequencedPacket {
  header: { sequenceNumber: number };
  payload: Buffer | null;
}

export interface PaddingFilterResult<P> {
  /** The packet to depacketize (renumbered in place), or undefined when it was padding only. */
  packet: P | undefined;
  /** Sequence numbers missing just before this packet (0 when none). */
  lost: number;
}

export interface PaddingFilterStats {
  paddingDropped: number;
  packetsLost: number;
  lossEvents: number;
  /** Packets older than one already passed on (dropped). */
  stalePackets: number;
}

/**
 * Drops padding-only packets (werift strips the padding and leaves an empty payload; Chromium
 * sends them as bandwidth probes on the media SSRC once transport-cc is negotiated) and closes
 * the sequence gaps they leave, so the depacketizer does not mistake them for loss.
 *
 * It must run AFTER the jitter buffer: the buffer needs every sequence number to release packets
 * in order without waiting for its timeout. Input is therefore in order (stale stragglers are
 * dropped here); a real gap (lost packet) is passed through as a gap and reported.
 */
export class PaddingFilter<P extends SequencedPacket = SequencedPacket> {
  private lastInputSeq: number | undefined;
  /** How far output sequence numbers lag input ones (mod 2^16). */
  private shift = 0;
  private readonly counters: PaddingFilterStats = { paddingDropped: 0, packetsLost: 0, lossEvents: 0, stalePackets: 0 };

  process(packet: P): PaddingFilterResult<P> {
    const seq = packet.header.sequenceNumber;
    let lost = 0;
    if (this.lastInputSeq !== undefined) {
      const step = uint16Add(seq, -this.lastInputSeq);
      if (step === 0 || step >= 0x8000) {
        // werift's jitter buffer, after giving up on a lost packet, can later release packets
        // older than the ones it already let through. The depacketizer would ignore them anyway.
        this.counters.stalePackets += 1;
        return { packet: undefined, lost: 0 };
      }
      lost = step - 1;
    }
    this.lastInputSeq = seq;
    if (lost > 0) {
      this.counters.packetsLost += lost;
      this.counters.lossEvents += 1;
    }
    if (!packet.payload || packet.payload.length === 0) {
      this.shift = uint16Add(this.shift, 1);
      this.counters.paddingDropped += 1;
      return { packet: undefined, lost };
    }
    packet.header.sequenceNumber = uint16Add(seq, -this.shift);
    return { packet, lost };
  }

  stats(): PaddingFilterStats {
    return { ...this.counters };
  }
}

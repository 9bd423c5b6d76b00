/**
 * The peer connections of live sessions: publishers' and WHEP viewers', made with the server's
 * ICE and SDP settings, counted while open (for /api/health), and each viewer's traced to it
 * for the crash guard.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createPeerSession, type BitrateHintsKbps, type PeerSession, type SdpLimits, type VideoCodecName } from '../webrtc/index.js';
import type { OwnerScope, Owner } from '../shared/owners.js';
import type { ResourceCounters } from './decode-stage.js';

export type PeerConfig = Pick<Config, 'iceServers' | 'iceHostAddresses' | 'jitterLatencyMs' | 'idleTimeoutMs' | 'videoCodec'>;

export class PeerFactory {
  constructor(
    private readonly config: PeerConfig,
    private readonly sdpLimits: SdpLimits,
    private readonly counters: ResourceCounters,
    private readonly owners: OwnerScope,
  ) {}

  /** A publisher: its camera comes in; our video goes back when it offered sendrecv. */
  publisher(offerSdp: string, browserBitrateKbps: BitrateHintsKbps, log: Logger): Promise<PeerSession> {
    return this.#create({ ...this.#options(log), offerSdp, preferCodec: this.config.videoCodec, browserBitrateKbps });
  }

  /** A WHEP viewer of stream `sessionId`, traced to it: an error no chain caught closes this viewer. */
  async viewer(sessionId: string, offerSdp: string, codec: VideoCodecName, log: Logger): Promise<PeerSession> {
    const holder: { peer?: PeerSession } = {};
    const owner: Owner = { kind: 'viewer', id: sessionId, fail: () => void holder.peer?.close() };
    holder.peer = await this.owners.run(owner, () => this.#create({ ...this.#options(log), offerSdp, role: 'viewer', viewerCodec: codec }));
    return holder.peer;
  }

  /** Counted from creation until the peer connection has closed. */
  async #create(options: Parameters<typeof createPeerSession>[0]): Promise<PeerSession> {
    const peer = await createPeerSession(options);
    this.counters.peers++;
    peer.onClosed(() => {
      this.counters.peers--;
    });
    return peer;
  }

  #options(log: Logger) {
    return {
      iceServers: this.config.iceServers,
      iceAdditionalHostAddresses: this.config.iceHostAddresses,
      jitterLatencyMs: this.config.jitterLatencyMs,
      idleTimeoutMs: this.config.idleTimeoutMs,
      sdpLimits: this.sdpLimits,
      logger: log,
    };
  }
}

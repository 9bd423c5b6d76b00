/**
 * One werift peer connection per publisher or viewer: the public interface, its options, and
 * the factory that validates the offer before anything is allocated. The connection itself is
 * in werift-peer.ts; its receive side, send side, incoming key-frame requests and liveness are
 * in peer-ingress.ts, peer-egress.ts, peer-feedback.ts and peer-liveness.ts.
 */
import { pino, type Logger } from 'pino';
import {
  RTCPeerConnection,
  useAbsSendTime,
  useH264,
  useOPUS,
  usePCMU,
  useSdesMid,
  useTransportWideCC,
  useVP8,
  type RTCIceCandidateInit,
  type RtpPacket,
} from 'werift';
import type { IceServer, VideoCodecName } from '../contract/index.js';
import { ConfigError, CycleStreamError, SdpError } from '../shared/errors.js';
import type { Closable } from '../shared/image.js';
import type { EncodedVideoFrame } from './receive-pipeline.js';
import type { KeyframeRequestReason, PeerIngressStats } from './peer-ingress.js';
import type { KeyframeRequestSource } from './peer-feedback.js';
import type { PeerEgressStats } from './peer-egress.js';
import { inspectOffer, inspectViewerOffer } from './sdp.js';
import { addBitrateHints, dropRejectedFromBundle, validateBitrateHints, type BitrateHintsKbps } from './sdp-answer.js';
import { DEFAULT_SDP_LIMITS, type SdpLimits } from './sdp-limits.js';
import { WeriftPeerSession } from './werift-peer.js';

export type { EncodedVideoFrame } from './receive-pipeline.js';
export type { KeyframeRequestReason } from './peer-ingress.js';
export type { KeyframeRequestSource } from './peer-feedback.js';

export type PeerSessionLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/**
 * 'publisher': the far end sends its camera, and gets our video back when it offered sendrecv;
 * `preferCodec` picks when it offers both (the server's VIDEO_CODEC). 'viewer': the far end only
 * receives (WHEP), in `viewerCodec`, the codec the stream is already encoded in.
 */
export type PeerRole = { role?: 'publisher'; preferCodec: VideoCodecName } | { role: 'viewer'; viewerCodec: VideoCodecName };

export interface PeerCommonOptions {
  /** The browser's offer (non-trickle or trickle; remote candidates can follow via addIceCandidate). */
  offerSdp: string;
  /** STUN/TURN servers. Default [] = host candidates only (werift's own default asks a public STUN server). */
  iceServers?: IceServer[];
  /** Extra host addresses to gather on. Default ['127.0.0.1']: werift skips loopback otherwise. */
  iceAdditionalHostAddresses?: string[];
  /** Default false. */
  iceUseIpv6?: boolean;
  /** UDP port range for ICE, e.g. for a firewall rule. */
  icePortRange?: [number, number];
  /**
   * x-google-{min,start,max}-bitrate hints put on the answer for the browser's encoder.
   * Default { min: 300, start: 1000, max: 2500 }; null leaves them out.
   */
  browserBitrateKbps?: BitrateHintsKbps | null;
  /** How long the jitter buffer waits for a missing packet. Default 100. */
  jitterLatencyMs?: number;
  /**
   * Close with 'idle-timeout' when no RTP arrived for this long (also before the first packet);
   * for a viewer, no RTCP. Counted from startIdleTimer(), once the answer is on its way. 0
   * disables. Required, so that it is the server's IDLE_TIMEOUT_MS and not a second default.
   */
  idleTimeoutMs: number;
  /** Caps on the offer, checked before it is parsed; `maxCandidates` also caps trickled candidates. */
  sdpLimits?: SdpLimits;
  /** How long connectionState may stay 'disconnected' before closing. Default 4000. */
  disconnectGraceMs?: number;
  /** Minimum spacing of our PLIs, and of onKeyframeRequest events. Default 300. */
  keyframeMinIntervalMs?: number;
  /** Drop delta frames after packet loss until a key frame arrives. Default true. */
  freezeOnLoss?: boolean;
  /** Upper bound on waiting for ICE gathering before answering. Default 5000. */
  iceGatheringTimeoutMs?: number;
  logger?: PeerSessionLogger;
}

export type PeerSessionOptions = PeerCommonOptions & PeerRole;

export type CloseReason = 'closed' | 'ice-failed' | 'disconnected' | 'idle-timeout';

export type PeerSessionStats = {
  codec: VideoCodecName;
  payloadType: number;
  connectionState: string;
  localSsrc: number;
  plisReceived: number;
  firsReceived: number;
  nacksSent: number;
  nacksReceived: number;
} & PeerIngressStats &
  PeerEgressStats;

export interface PeerSession extends Closable {
  /** Our answer (ICE gathering complete, candidates included, bitrate hints added). */
  readonly answerSdp: string;
  /** The one negotiated video codec, used in both directions. */
  readonly codec: VideoCodecName;
  readonly role: 'publisher' | 'viewer';
  /** Whether the far end takes video from us (a viewer, or a publisher that offered sendrecv). */
  readonly sendsVideo: boolean;
  readonly connectionState: string;
  readonly closed: boolean;
  /** Set once closing started. */
  readonly closeReason: CloseReason | undefined;
  /** Complete received frames, synchronously from the network path. Returns an unsubscribe function. */
  onFrame(cb: (frame: EncodedVideoFrame) => void): () => void;
  /**
   * Sends RTP packets that were packetized once for many peers (sequence numbers and timestamps
   * as given; werift sets SSRC, payload type and header extensions, so pass packets this peer
   * may modify). Resolves false when not sent (not connected yet, or closed).
   */
  sendRtp(packets: readonly RtpPacket[], keyframe: boolean): Promise<boolean>;
  /** Sends a PLI to the browser, rate-limited. True when one went out. */
  requestKeyframe(reason: KeyframeRequestReason): boolean;
  /** The browser asked for a key frame on our outgoing stream: force an I-frame on the next encode. */
  onKeyframeRequest(cb: (source: KeyframeRequestSource) => void): () => void;
  /** Called once, after the peer connection has closed; immediately (next microtask) if already closed. */
  onClosed(cb: (reason: CloseReason) => void): () => void;
  /** A trickled remote candidate; null/empty candidate = end of candidates. Throws SdpLimitError past the session's cap. */
  addIceCandidate(candidate: RTCIceCandidateInit | null): Promise<void>;
  /** Remote candidates so far: the offer's and the trickled ones. */
  readonly iceCandidates: number;
  /**
   * Starts the idle timeout. Call it when the answer is sent: before that the far end cannot
   * send anything, however long the answer took (ICE gathering, a model warming up). Idempotent.
   */
  startIdleTimer(): void;
  stats(): PeerSessionStats;
  close(): Promise<void>;
}

/** Stream id the browser sees on our track (event.streams[0].id). */
export const ANSWER_STREAM_ID = 'cyclestream';

const DEFAULT_BITRATE_KBPS: BitrateHintsKbps = { min: 300, start: 1000, max: 2500 };

/**
 * Validates the offer (before allocating anything), creates the werift peer connection, answers
 * sendrecv on the browser's video transceiver and waits for ICE gathering. Throws SdpError,
 * NoVideoError, UnsupportedCodecError or ConfigError; nothing is left open when it throws.
 */
export async function createPeerSession(options: PeerSessionOptions): Promise<PeerSession> {
  const limits = options.sdpLimits ?? DEFAULT_SDP_LIMITS;
  const offer =
    options.role === 'viewer'
      ? inspectViewerOffer(options.offerSdp, options.viewerCodec, limits)
      : inspectOffer(options.offerSdp, options.preferCodec, limits);
  const role = options.role ?? 'publisher';
  // The bitrate hints are for the browser's encoder; a viewer sends no video.
  const bitrate = role === 'viewer' ? null : options.browserBitrateKbps === undefined ? DEFAULT_BITRATE_KBPS : options.browserBitrateKbps;
  if (bitrate) validateBitrateHints(bitrate);
  validateIceServers(options.iceServers ?? []);

  const logger = options.logger ?? pino({ level: 'silent' });
  let pc: RTCPeerConnection;
  try {
    pc = new RTCPeerConnection({
      iceServers: options.iceServers ?? [],
      iceAdditionalHostAddresses: options.iceAdditionalHostAddresses ?? ['127.0.0.1'],
      iceUseIpv4: true,
      iceUseIpv6: options.iceUseIpv6 ?? false,
      icePortRange: options.icePortRange,
      codecs: {
        // Audio codecs only so werift can answer an audio section (it throws when none match); we set it inactive.
        audio: [useOPUS(), usePCMU()],
        video: [offer.codec === 'vp8' ? useVP8() : useH264()],
      },
      headerExtensions: {
        audio: [],
        video: [useSdesMid(), useAbsSendTime(), useTransportWideCC()],
      },
    });
  } catch (err) {
    throw new ConfigError('webrtc', err instanceof Error ? err.message : String(err));
  }

  const session = new WeriftPeerSession(pc, offer, role, options, logger);
  try {
    await session.negotiate(offer.restrictedSdp, options.iceGatheringTimeoutMs ?? 5000, (sdp) => {
      const bundled = dropRejectedFromBundle(sdp);
      return bitrate ? addBitrateHints(bundled, offer.mLineIndex, offer.payloadType, bitrate) : bundled;
    });
  } catch (err) {
    await session.close();
    if (err instanceof CycleStreamError) throw err;
    throw new SdpError(`negotiation failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return session;
}

function validateIceServers(servers: IceServer[]): void {
  if (!Array.isArray(servers)) throw new ConfigError('iceServers', 'must be an array');
  for (const server of servers) {
    const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
    if (urls.length === 0 || urls.some((u) => typeof u !== 'string' || !/^(stun|stuns|turn|turns):/.test(u))) {
      throw new ConfigError('iceServers', `invalid urls ${JSON.stringify(server.urls)}`);
    }
  }
}

import { pino, type Logger } from 'pino';
import {
  MediaStream,
  PictureLossIndication,
  RTCPeerConnection,
  RtcpPayloadSpecificFeedback,
  useAbsSendTime,
  useH264,
  useOPUS,
  usePCMU,
  useSdesMid,
  useTransportWideCC,
  useVP8,
  type MediaStreamTrack,
  type RTCIceCandidateInit,
  type RTCRtpTransceiver,
  type RtcpPacket,
  type RtpPacket,
} from 'werift';
import {
  BadRequestError,
  CodecError,
  ConfigError,
  CycleStreamError,
  SdpError,
  SdpLimitError,
} from '../shared/errors.js';
import type { Closable } from '../shared/image.js';
import { RateLimiter } from './rate-limiter.js';
import { ReceivePipeline, type EncodedVideoFrame, type NeedKeyframeReason } from './receive-pipeline.js';
import type { VideoCodecName } from './rtp-util.js';
import { RtpVideoWriter } from './rtp-writer.js';
import {
  addBitrateHints,
  dropRejectedFromBundle,
  inspectOffer,
  inspectViewerOffer,
  validateBitrateHints,
  type BitrateHintsKbps,
} from './sdp.js';
import { DEFAULT_SDP_LIMITS, type SdpLimits } from './sdp-limits.js';

export type { EncodedVideoFrame } from './receive-pipeline.js';

export interface IceServerConfig {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export type PeerSessionLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface PeerSessionOptions {
  /** The browser's offer (non-trickle or trickle; remote candidates can follow via addIceCandidate). */
  offerSdp: string;
  /**
   * 'publisher' (default): the far end sends its camera, and gets our video back when it offered
   * sendrecv. 'viewer': the far end only receives (WHEP); `viewerCodec` is then required.
   */
  role?: 'publisher' | 'viewer';
  /** The codec a viewer must accept: the one the stream is already encoded in. */
  viewerCodec?: VideoCodecName;
  /** STUN/TURN servers. Default [] = host candidates only (werift's own default asks a public STUN server). */
  iceServers?: IceServerConfig[];
  /** Extra host addresses to gather on. Default ['127.0.0.1']: werift skips loopback otherwise. */
  iceAdditionalHostAddresses?: string[];
  /** Default false. */
  iceUseIpv6?: boolean;
  /** UDP port range for ICE, e.g. for a firewall rule. */
  icePortRange?: [number, number];
  /** Codec to pick when the browser offers both. Default 'vp8'. */
  preferCodec?: VideoCodecName;
  /**
   * x-google-{min,start,max}-bitrate hints put on the answer for the browser's encoder.
   * Default { min: 300, start: 1000, max: 2500 }; null leaves them out.
   */
  browserBitrateKbps?: BitrateHintsKbps | null;
  /** How long the jitter buffer waits for a missing packet. Default 100. */
  jitterLatencyMs?: number;
  /**
   * Close with 'idle-timeout' when no RTP arrived for this long (also before the first packet);
   * for a viewer, no RTCP. Counted from startIdleTimer(), once the answer is on its way. Default
   * 10000; 0 disables.
   */
  idleTimeoutMs?: number;
  /** Caps on the offer, checked before it is parsed; `maxCandidates` also caps trickled candidates. */
  sdpLimits?: SdpLimits;
  /** How long connectionState may stay 'disconnected' before closing. Default 4000. */
  disconnectGraceMs?: number;
  /** Minimum spacing of our PLIs, and of onKeyframeRequest events. Default 300. */
  keyframeMinIntervalMs?: number;
  /** Drop delta frames after packet loss until a key frame arrives. Default true. */
  freezeOnLoss?: boolean;
  /** Largest RTP payload we send. Default 1160. */
  maxPayloadBytes?: number;
  /** Upper bound on waiting for ICE gathering before answering. Default 5000. */
  iceGatheringTimeoutMs?: number;
  logger?: PeerSessionLogger;
}

export type CloseReason = 'closed' | 'ice-failed' | 'disconnected' | 'idle-timeout';

/** Why we ask the browser for a key frame (server side). */
export type KeyframeRequestReason = NeedKeyframeReason | 'stream-start' | 'decode-error' | 'backpressure' | 'manual';

/** Why the browser wants a key frame from us: its PLI or FIR, or the connection just came up. */
export type KeyframeRequestSource = 'pli' | 'fir' | 'connected';

export interface OutgoingVideoFrame {
  /** A VP8 frame, or an H.264 access unit in Annex-B. The buffer may be reused after the promise resolves. */
  data: Uint8Array;
  keyframe: boolean;
  /** Presentation time in ms; must rise (it is forced to). */
  ptsMs: number;
  /** When given, must match the negotiated codec. */
  codec?: VideoCodecName;
}

export interface FramesOptions {
  /** Frames queued for a slow consumer before the queue is dropped and a key frame requested. Default 60. */
  maxQueuedFrames?: number;
}

export interface PeerSessionStats {
  codec: VideoCodecName;
  payloadType: number;
  connectionState: string;
  localSsrc: number;
  remoteSsrc: number | undefined;
  packetsIn: number;
  bytesIn: number;
  paddingDropped: number;
  packetsLost: number;
  framesIn: number;
  keyframesIn: number;
  /** Frames dropped while waiting for a key frame (stream start or after loss). */
  framesDropped: number;
  /** Frames dropped because a frames() consumer fell behind. */
  framesDroppedBackpressure: number;
  packetsOut: number;
  bytesOut: number;
  framesOut: number;
  keyframesOut: number;
  /** sendFrame() calls refused because the connection was not up (or closed). */
  framesNotSent: number;
  plisSent: number;
  plisSuppressed: number;
  plisReceived: number;
  firsReceived: number;
  nacksSent: number;
  nacksReceived: number;
}

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
  /** The same frames as an async iterable; ends when the session closes. */
  frames(options?: FramesOptions): AsyncIterableIterator<EncodedVideoFrame>;
  /** Packetizes and sends one encoded frame. Resolves false when it was not sent (not connected yet, or closed). */
  sendFrame(frame: OutgoingVideoFrame): Promise<boolean>;
  /**
   * Sends RTP packets that were packetized once for many peers (sequence numbers and timestamps
   * as given; werift sets SSRC, payload type and header extensions, so pass packets this peer
   * may modify). Resolves false when not sent.
   */
  sendRtp(packets: readonly RtpPacket[], keyframe: boolean): Promise<boolean>;
  /** Sends a PLI to the browser, rate-limited. True when one went out. */
  requestKeyframe(reason: KeyframeRequestReason): boolean;
  /** The browser asked for a key frame on our outgoing stream: force an I-frame on the next encode. */
  onKeyframeRequest(cb: (source: KeyframeRequestSource) => void): () => void;
  onConnectionStateChange(cb: (state: string) => void): () => void;
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

/** RFC 5104 FIR feedback message type. werift 0.24.4 parses FIR but does not export the class. */
const FIR_FORMAT = 4;
interface FirFeedback {
  mediaSsrc: number;
  fir: { ssrc: number; sequenceNumber: number }[];
}

const DEFAULT_BITRATE_KBPS: BitrateHintsKbps = { min: 300, start: 1000, max: 2500 };

/**
 * Validates the offer (before allocating anything), creates the werift peer connection, answers
 * sendrecv on the browser's video transceiver and waits for ICE gathering. Throws SdpError,
 * NoVideoError, UnsupportedCodecError or ConfigError; nothing is left open when it throws.
 */
export async function createPeerSession(options: PeerSessionOptions): Promise<PeerSession> {
  const role = options.role ?? 'publisher';
  if (role === 'viewer' && !options.viewerCodec) throw new ConfigError('viewerCodec', 'a viewer session needs the stream codec');
  const limits = options.sdpLimits ?? DEFAULT_SDP_LIMITS;
  const offer =
    role === 'viewer'
      ? inspectViewerOffer(options.offerSdp, options.viewerCodec!, limits)
      : inspectOffer(options.offerSdp, options.preferCodec ?? 'vp8', limits);
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

function validateIceServers(servers: IceServerConfig[]): void {
  if (!Array.isArray(servers)) throw new ConfigError('iceServers', 'must be an array');
  for (const server of servers) {
    const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
    if (urls.length === 0 || urls.some((u) => typeof u !== 'string' || !/^(stun|stuns|turn|turns):/.test(u))) {
      throw new ConfigError('iceServers', `invalid urls ${JSON.stringify(server.urls)}`);
    }
  }
}

type Unsubscribe = () => void;

class WeriftPeerSession implements PeerSession {
  answerSdp = '';
  readonly codec: VideoCodecName;
  readonly sendsVideo: boolean;
  closeReason: CloseReason | undefined;

  private readonly payloadType: number;
  private readonly log: PeerSessionLogger;
  private readonly frameListeners = new Set<(frame: EncodedVideoFrame) => void>();
  private readonly keyframeListeners = new Set<(source: KeyframeRequestSource) => void>();
  private readonly stateListeners = new Set<(state: string) => void>();
  private readonly closedListeners = new Set<(reason: CloseReason) => void>();
  private readonly iteratorClosers = new Set<() => void>();
  private readonly subscriptions: Unsubscribe[] = [];
  private readonly pliLimiter: RateLimiter;
  private readonly keyframeEventLimiter: RateLimiter;
  private readonly writer: RtpVideoWriter;
  private readonly jitterLatencyMs: number | undefined;
  private readonly freezeOnLoss: boolean;
  private readonly idleTimeoutMs: number;
  private readonly disconnectGraceMs: number;
  private readonly videoMid: string | undefined;
  private readonly maxCandidates: number;
  iceCandidates: number;

  private transceiver: RTCRtpTransceiver | undefined;
  private pipeline: ReceivePipeline | undefined;
  private remoteSsrc: number | undefined;
  private lastRtpAt = performance.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private disconnectTimer: NodeJS.Timeout | undefined;
  private wasConnected = false;
  private sendQueue: Promise<unknown> = Promise.resolve();
  private closePromise: Promise<void> | undefined;
  private closedDone = false;
  private readonly counters = {
    bytesIn: 0,
    framesDroppedBackpressure: 0,
    packetsOut: 0,
    bytesOut: 0,
    framesOut: 0,
    keyframesOut: 0,
    framesNotSent: 0,
    plisSent: 0,
    plisSuppressed: 0,
    plisReceived: 0,
    firsReceived: 0,
    nacksSent: 0,
    nacksReceived: 0,
  };
  /** Stats of pipelines replaced after an SSRC change, so totals survive. */
  private readonly retired = { packetsIn: 0, paddingDropped: 0, packetsLost: 0, framesIn: 0, keyframesIn: 0, framesDropped: 0 };

  constructor(
    private readonly pc: RTCPeerConnection,
    offer: { codec: VideoCodecName; payloadType: number; mid: string | undefined; direction: string; candidates: number },
    readonly role: 'publisher' | 'viewer',
    options: PeerSessionOptions,
    logger: PeerSessionLogger,
  ) {
    this.codec = offer.codec;
    this.sendsVideo = role === 'viewer' || offer.direction === 'sendrecv';
    this.payloadType = offer.payloadType;
    this.videoMid = offer.mid;
    this.log = logger;
    const minIntervalMs = options.keyframeMinIntervalMs ?? 300;
    this.pliLimiter = new RateLimiter(minIntervalMs);
    this.keyframeEventLimiter = new RateLimiter(minIntervalMs);
    this.writer = new RtpVideoWriter({
      codec: offer.codec,
      payloadType: offer.payloadType,
      maxPayloadBytes: options.maxPayloadBytes,
    });
    this.jitterLatencyMs = options.jitterLatencyMs;
    this.freezeOnLoss = options.freezeOnLoss ?? true;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
    this.disconnectGraceMs = options.disconnectGraceMs ?? 4000;
    this.iceCandidates = offer.candidates;
    this.maxCandidates = (options.sdpLimits ?? DEFAULT_SDP_LIMITS).maxCandidates;

    this.subscribe(
      pc.onRemoteTransceiverAdded.subscribe((t) => this.onRemoteTransceiver(t)),
      pc.connectionStateChange.subscribe((state) => this.onConnectionState(state)),
    );
  }

  get connectionState(): string {
    return this.pc.connectionState;
  }

  get closed(): boolean {
    return this.closePromise !== undefined;
  }

  async negotiate(offerSdp: string, gatheringTimeoutMs: number, finishAnswer: (sdp: string) => string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    if (!this.transceiver) throw new SdpError('werift created no transceiver for the video section');
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    await this.waitForGathering(gatheringTimeoutMs);
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp) throw new SdpError('werift produced no local description');
    this.answerSdp = finishAnswer(sdp);
    this.log.debug({ codec: this.codec, payloadType: this.payloadType }, 'webrtc answer ready');
  }

  private waitForGathering(timeoutMs: number): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        sub.unSubscribe();
        this.log.warn({ timeoutMs }, 'ICE gathering not complete; answering with the candidates so far');
        resolve();
      }, timeoutMs);
      const sub = this.pc.iceGatheringStateChange.subscribe((state) => {
        if (state !== 'complete') return;
        clearTimeout(timer);
        sub.unSubscribe();
        resolve();
      });
    });
  }

  private onRemoteTransceiver(t: RTCRtpTransceiver): void {
    const isOurs =
      t.kind === 'video' && !this.transceiver && (this.videoMid === undefined || t.mid === this.videoMid);
    if (!isOurs) {
      // Audio, data or a second video section: answer it inactive so nothing flows there.
      t.setDirection('inactive');
      return;
    }
    // werift answers a browser-created transceiver recvonly, and the browser then never gets our
    // track; this must happen before createAnswer. werift intersects it with the offer's direction,
    // so a WHIP publisher's sendonly offer is still answered recvonly.
    t.setDirection(this.role === 'viewer' ? 'sendonly' : 'sendrecv');
    // Without a=msid in the answer the browser's ontrack event has no stream to attach.
    t.sender.setStreams([new MediaStream({ id: ANSWER_STREAM_ID })]);
    this.transceiver = t;
    this.subscribe(
      t.onTrack.subscribe((track) => this.attachTrack(track)),
      t.receiver.onRtcp.subscribe((packet) => this.onRtcp(packet)),
      // The router hands feedback to whichever side registered the SSRC it names, so PLIs for our
      // stream can land on the sender when the browser's sender SSRC is unknown to us.
      t.sender.onRtcp.subscribe((packet) => this.onRtcp(packet)),
      t.receiver.onPacketLost.subscribe(() => {
        this.counters.nacksSent += 1;
      }),
      t.sender.onGenericNack.subscribe(() => {
        this.counters.nacksReceived += 1;
      }),
    );
    for (const track of t.receiver.tracks) this.attachTrack(track);
  }

  private readonly attachedTracks = new WeakSet<MediaStreamTrack>();

  private attachTrack(track: MediaStreamTrack): void {
    if (this.attachedTracks.has(track)) return;
    this.attachedTracks.add(track);
    this.subscribe(track.onReceiveRtp.subscribe((rtp) => this.onRtp(rtp)));
  }

  private onRtp(rtp: RtpPacket): void {
    if (this.closePromise) return;
    this.lastRtpAt = performance.now();
    this.counters.bytesIn += rtp.payload?.length ?? 0;
    const ssrc = rtp.header.ssrc;
    if (!this.pipeline || ssrc !== this.remoteSsrc) {
      // A new SSRC means a new sequence space (the browser restarted its sender): start over.
      this.retirePipeline();
      this.remoteSsrc = ssrc;
      this.pipeline = new ReceivePipeline({
        codec: this.codec,
        payloadType: this.payloadType,
        jitterLatencyMs: this.jitterLatencyMs,
        freezeOnLoss: this.freezeOnLoss,
        onFrame: (frame) => this.emitFrame(frame),
        onNeedKeyframe: (reason) => {
          this.requestKeyframe(reason);
        },
      });
      this.requestKeyframe('stream-start');
    }
    this.pipeline.input(rtp);
  }

  private retirePipeline(): void {
    if (!this.pipeline) return;
    const s = this.pipeline.stats();
    this.retired.packetsIn += s.packetsIn;
    this.retired.paddingDropped += s.paddingDropped;
    this.retired.packetsLost += s.packetsLost;
    this.retired.framesIn += s.framesIn;
    this.retired.keyframesIn += s.keyframesIn;
    this.retired.framesDropped += s.framesDropped;
    this.pipeline.destroy();
    this.pipeline = undefined;
  }

  private emitFrame(frame: EncodedVideoFrame): void {
    for (const cb of this.frameListeners) this.safeCall('onFrame', () => cb(frame));
  }

  private onRtcp(packet: RtcpPacket): void {
    // A viewer sends no media; its receiver reports are what shows it is still there.
    if (this.role === 'viewer') this.lastRtpAt = performance.now();
    if (this.closePromise || packet.type !== RtcpPayloadSpecificFeedback.type || !this.transceiver) return;
    const ourSsrc = this.transceiver.sender.ssrc;
    const feedback = (packet as RtcpPayloadSpecificFeedback).feedback;
    if (!feedback) return;
    if (feedback.count === PictureLossIndication.count && feedback.mediaSsrc === ourSsrc) {
      this.counters.plisReceived += 1;
      this.emitKeyframeRequest('pli');
    } else if (feedback.count === FIR_FORMAT) {
      const fir = feedback as unknown as FirFeedback;
      if (fir.mediaSsrc === ourSsrc || fir.fir.some((entry) => entry.ssrc === ourSsrc)) {
        this.counters.firsReceived += 1;
        this.emitKeyframeRequest('fir');
      }
    }
  }

  private emitKeyframeRequest(source: KeyframeRequestSource): void {
    // Browsers repeat PLIs every round trip until a key frame arrives; one forced I-frame per interval is enough.
    if (source !== 'connected' && !this.keyframeEventLimiter.tryAcquire()) return;
    for (const cb of this.keyframeListeners) this.safeCall('onKeyframeRequest', () => cb(source));
  }

  private onConnectionState(state: string): void {
    this.log.debug({ state }, 'webrtc connection state');
    for (const cb of this.stateListeners) this.safeCall('onConnectionStateChange', () => cb(state));
    if (this.closePromise) return;
    switch (state) {
      case 'connected':
        this.clearDisconnectTimer();
        // A viewer's receiver reports only start once our media reaches it.
        if (this.role === 'viewer') this.lastRtpAt = performance.now();
        if (!this.wasConnected) {
          this.wasConnected = true;
          this.emitKeyframeRequest('connected');
        }
        break;
      case 'disconnected':
        if (!this.disconnectTimer) {
          this.disconnectTimer = setTimeout(() => void this.shutdown('disconnected'), this.disconnectGraceMs);
          this.disconnectTimer.unref();
        }
        break;
      case 'failed':
        void this.shutdown('ice-failed');
        break;
      case 'closed':
        void this.shutdown('closed');
        break;
    }
  }

  private clearDisconnectTimer(): void {
    if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
    this.disconnectTimer = undefined;
  }

  startIdleTimer(): void {
    if (this.idleTimeoutMs <= 0 || this.idleTimer || this.closePromise) return;
    this.lastRtpAt = performance.now();
    this.idleTimer = setInterval(
      () => {
        if (performance.now() - this.lastRtpAt >= this.idleTimeoutMs) void this.shutdown('idle-timeout');
      },
      Math.min(1000, Math.max(10, this.idleTimeoutMs / 4)),
    );
    this.idleTimer.unref();
  }

  onFrame(cb: (frame: EncodedVideoFrame) => void): () => void {
    this.frameListeners.add(cb);
    return () => this.frameListeners.delete(cb);
  }

  frames(options: FramesOptions = {}): AsyncIterableIterator<EncodedVideoFrame> {
    const maxQueued = Math.max(1, options.maxQueuedFrames ?? 60);
    const queue: EncodedVideoFrame[] = [];
    let waiter: ((result: IteratorResult<EncodedVideoFrame>) => void) | undefined;
    let done = false;
    let skipUntilKeyframe = false;
    const push = (frame: EncodedVideoFrame) => {
      if (skipUntilKeyframe && !frame.keyframe) {
        this.counters.framesDroppedBackpressure += 1;
        return;
      }
      skipUntilKeyframe = false;
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w({ value: frame, done: false });
        return;
      }
      if (queue.length >= maxQueued) {
        // Encoded frames depend on each other, so "keep the newest" means: drop everything up to
        // the next key frame, and ask for one now.
        this.counters.framesDroppedBackpressure += queue.length;
        queue.length = 0;
        if (!frame.keyframe) {
          this.counters.framesDroppedBackpressure += 1;
          skipUntilKeyframe = true;
          this.requestKeyframe('backpressure');
          return;
        }
      }
      queue.push(frame);
    };
    const unsubscribe = this.onFrame(push);
    const finish = () => {
      if (done) return;
      done = true;
      unsubscribe();
      this.iteratorClosers.delete(finish);
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w({ value: undefined, done: true });
      }
    };
    this.iteratorClosers.add(finish);
    if (this.closePromise) finish();
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
        queue.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  sendFrame(frame: OutgoingVideoFrame): Promise<boolean> {
    if (frame.codec !== undefined && frame.codec !== this.codec) {
      return Promise.reject(new CodecError(`session negotiated ${this.codec}, got a ${frame.codec} frame`));
    }
    if (!this.canSend()) {
      this.counters.framesNotSent += 1;
      return Promise.resolve(false);
    }
    let packets: RtpPacket[];
    try {
      packets = this.writer.write(frame);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.sendRtp(packets, frame.keyframe);
  }

  private canSend(): boolean {
    return !this.closePromise && this.sendsVideo && !!this.transceiver && this.pc.connectionState === 'connected';
  }

  sendRtp(packets: readonly RtpPacket[], keyframe: boolean): Promise<boolean> {
    const sender = this.transceiver?.sender;
    if (!sender || !this.canSend()) {
      this.counters.framesNotSent += 1;
      return Promise.resolve(false);
    }
    const send = async (): Promise<boolean> => {
      try {
        for (const packet of packets) {
          const bytes = packet.payload.length;
          // werift keeps the packet object for NACK retransmission.
          await sender.sendRtp(packet);
          this.counters.packetsOut += 1;
          this.counters.bytesOut += bytes;
        }
        this.counters.framesOut += 1;
        if (keyframe) this.counters.keyframesOut += 1;
        return true;
      } catch (err) {
        this.log.warn({ err }, 'sending RTP failed');
        return false;
      }
    };
    // Frames go out whole and in order even when callers do not await each other.
    const result = this.sendQueue.then(send);
    this.sendQueue = result;
    return result;
  }

  requestKeyframe(reason: KeyframeRequestReason): boolean {
    const receiver = this.transceiver?.receiver;
    if (this.closePromise || !receiver || this.remoteSsrc === undefined) return false;
    if (!this.pliLimiter.tryAcquire()) {
      this.counters.plisSuppressed += 1;
      return false;
    }
    this.counters.plisSent += 1;
    this.log.debug({ reason, ssrc: this.remoteSsrc }, 'sending PLI');
    receiver.sendRtcpPLI(this.remoteSsrc).catch((err: unknown) => this.log.warn({ err }, 'sending PLI failed'));
    return true;
  }

  onKeyframeRequest(cb: (source: KeyframeRequestSource) => void): () => void {
    this.keyframeListeners.add(cb);
    return () => this.keyframeListeners.delete(cb);
  }

  onConnectionStateChange(cb: (state: string) => void): () => void {
    this.stateListeners.add(cb);
    return () => this.stateListeners.delete(cb);
  }

  onClosed(cb: (reason: CloseReason) => void): () => void {
    if (this.closedDone) {
      const reason = this.closeReason ?? 'closed';
      queueMicrotask(() => this.safeCall('onClosed', () => cb(reason)));
      return () => {};
    }
    this.closedListeners.add(cb);
    return () => this.closedListeners.delete(cb);
  }

  async addIceCandidate(candidate: RTCIceCandidateInit | null): Promise<void> {
    if (this.closePromise) return;
    if (candidate?.candidate && ++this.iceCandidates > this.maxCandidates) {
      throw new SdpLimitError(`this session has had ${this.maxCandidates} ICE candidates, the limit (MAX_ICE_CANDIDATES_PER_SESSION)`);
    }
    try {
      await this.pc.addIceCandidate(candidate ?? undefined);
    } catch (err) {
      throw new BadRequestError(`invalid ICE candidate: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  }

  stats(): PeerSessionStats {
    const p = this.pipeline?.stats();
    const c = this.counters;
    return {
      codec: this.codec,
      payloadType: this.payloadType,
      connectionState: this.pc.connectionState,
      localSsrc: this.transceiver?.sender.ssrc ?? 0,
      remoteSsrc: this.remoteSsrc,
      packetsIn: this.retired.packetsIn + (p?.packetsIn ?? 0),
      bytesIn: c.bytesIn,
      paddingDropped: this.retired.paddingDropped + (p?.paddingDropped ?? 0),
      packetsLost: this.retired.packetsLost + (p?.packetsLost ?? 0),
      framesIn: this.retired.framesIn + (p?.framesIn ?? 0),
      keyframesIn: this.retired.keyframesIn + (p?.keyframesIn ?? 0),
      framesDropped: this.retired.framesDropped + (p?.framesDropped ?? 0),
      framesDroppedBackpressure: c.framesDroppedBackpressure,
      packetsOut: c.packetsOut,
      bytesOut: c.bytesOut,
      framesOut: c.framesOut,
      keyframesOut: c.keyframesOut,
      framesNotSent: c.framesNotSent,
      plisSent: c.plisSent,
      plisSuppressed: c.plisSuppressed,
      plisReceived: c.plisReceived,
      firsReceived: c.firsReceived,
      nacksSent: c.nacksSent,
      nacksReceived: c.nacksReceived,
    };
  }

  close(): Promise<void> {
    return this.shutdown('closed');
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private shutdown(reason: CloseReason): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closeReason = reason;
    this.closePromise = (async () => {
      this.log.info({ reason }, 'webrtc session closing');
      if (this.idleTimer) clearInterval(this.idleTimer);
      this.idleTimer = undefined;
      this.clearDisconnectTimer();
      for (const unsubscribe of this.subscriptions.splice(0)) unsubscribe();
      this.retirePipeline();
      for (const finish of [...this.iteratorClosers]) finish();
      this.frameListeners.clear();
      this.keyframeListeners.clear();
      try {
        await this.sendQueue;
        await this.pc.close();
      } catch (err) {
        this.log.warn({ err }, 'closing the peer connection failed');
      }
      this.stateListeners.clear();
      this.closedDone = true;
      const listeners = [...this.closedListeners];
      this.closedListeners.clear();
      for (const cb of listeners) this.safeCall('onClosed', () => cb(reason));
    })();
    return this.closePromise;
  }

  private subscribe(...subs: { unSubscribe: () => void }[]): void {
    for (const s of subs) this.subscriptions.push(() => s.unSubscribe());
  }

  private safeCall(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, `${what} listener threw`);
    }
  }
}

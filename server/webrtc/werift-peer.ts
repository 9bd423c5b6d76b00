/**
 * The werift peer connection behind a PeerSession: negotiation, the browser's video
 * transceiver, connection state and closing. Receiving, sending, incoming key-frame requests and
 * liveness are delegated to one object each.
 */
import { MediaStream, type MediaStreamTrack, type RTCIceCandidateInit, type RTCPeerConnection, type RTCRtpTransceiver, type RtcpPacket, type RtpPacket } from 'werift';
import type { VideoCodecName } from '../contract/index.js';
import { BadRequestError, SdpError, SdpLimitError } from '../shared/errors.js';
import { Listeners, type Unsubscribe } from '../shared/listeners.js';
import { PeerEgress } from './peer-egress.js';
import { KeyframeFeedback, type KeyframeRequestSource } from './peer-feedback.js';
import { PeerIngress, type KeyframeRequestReason } from './peer-ingress.js';
import { PeerLiveness } from './peer-liveness.js';
import type { EncodedVideoFrame } from './receive-pipeline.js';
import { DEFAULT_SDP_LIMITS } from './sdp-limits.js';
import { ANSWER_STREAM_ID, type CloseReason, type PeerSession, type PeerSessionLogger, type PeerSessionOptions, type PeerSessionStats } from './peer-session.js';

export interface NegotiatedOffer {
  codec: VideoCodecName;
  payloadType: number;
  mid: string | undefined;
  direction: string;
  candidates: number;
}

export class WeriftPeerSession implements PeerSession {
  answerSdp = '';
  readonly codec: VideoCodecName;
  readonly sendsVideo: boolean;
  closeReason: CloseReason | undefined;
  iceCandidates: number;

  readonly #payloadType: number;
  readonly #log: PeerSessionLogger;
  readonly #frames: Listeners<EncodedVideoFrame>;
  readonly #keyframeRequests: Listeners<KeyframeRequestSource>;
  readonly #closedListeners: Listeners<CloseReason>;
  readonly #subscriptions: Unsubscribe[] = [];
  readonly #ingress: PeerIngress;
  readonly #egress: PeerEgress;
  readonly #feedback: KeyframeFeedback;
  readonly #liveness: PeerLiveness;
  readonly #videoMid: string | undefined;
  readonly #maxCandidates: number;
  readonly #attachedTracks = new WeakSet<MediaStreamTrack>();
  readonly #nacks = { sent: 0, received: 0 };
  #transceiver: RTCRtpTransceiver | undefined;
  #wasConnected = false;
  #closePromise: Promise<void> | undefined;
  #closedDone = false;

  constructor(
    private readonly pc: RTCPeerConnection,
    offer: NegotiatedOffer,
    readonly role: 'publisher' | 'viewer',
    options: PeerSessionOptions,
    logger: PeerSessionLogger,
  ) {
    this.codec = offer.codec;
    this.sendsVideo = role === 'viewer' || offer.direction === 'sendrecv';
    this.#payloadType = offer.payloadType;
    this.#videoMid = offer.mid;
    this.#log = logger;
    const listenerFailed = (what: string) => (err: unknown) => this.#log.error({ err }, `${what} listener threw`);
    this.#frames = new Listeners(listenerFailed('onFrame'));
    this.#keyframeRequests = new Listeners(listenerFailed('onKeyframeRequest'));
    this.#closedListeners = new Listeners(listenerFailed('onClosed'));
    const keyframeMinIntervalMs = options.keyframeMinIntervalMs ?? 300;
    this.#ingress = new PeerIngress({
      codec: offer.codec,
      payloadType: offer.payloadType,
      jitterLatencyMs: options.jitterLatencyMs,
      freezeOnLoss: options.freezeOnLoss ?? true,
      keyframeMinIntervalMs,
      onFrame: (frame) => this.#frames.emit(frame),
      log: logger,
    });
    this.#egress = new PeerEgress(logger);
    this.#feedback = new KeyframeFeedback(keyframeMinIntervalMs, (source) => this.#keyframeRequests.emit(source));
    this.#liveness = new PeerLiveness({
      idleTimeoutMs: options.idleTimeoutMs,
      disconnectGraceMs: options.disconnectGraceMs ?? 4000,
      onGone: (verdict) => void this.#shutdown(verdict),
    });
    this.iceCandidates = offer.candidates;
    this.#maxCandidates = (options.sdpLimits ?? DEFAULT_SDP_LIMITS).maxCandidates;

    this.#subscribe(
      pc.onRemoteTransceiverAdded.subscribe((t) => this.#onRemoteTransceiver(t)),
      pc.connectionStateChange.subscribe((state) => this.#onConnectionState(state)),
    );
  }

  get connectionState(): string {
    return this.pc.connectionState;
  }

  get closed(): boolean {
    return this.#closePromise !== undefined;
  }

  async negotiate(offerSdp: string, gatheringTimeoutMs: number, finishAnswer: (sdp: string) => string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    if (!this.#transceiver) throw new SdpError('werift created no transceiver for the video section');
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    await this.#waitForGathering(gatheringTimeoutMs);
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp) throw new SdpError('werift produced no local description');
    this.answerSdp = finishAnswer(sdp);
    this.#log.debug({ codec: this.codec, payloadType: this.#payloadType }, 'webrtc answer ready');
  }

  #waitForGathering(timeoutMs: number): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        sub.unSubscribe();
        this.#log.warn({ timeoutMs }, 'ICE gathering not complete; answering with the candidates so far');
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

  #onRemoteTransceiver(t: RTCRtpTransceiver): void {
    const isOurs = t.kind === 'video' && !this.#transceiver && (this.#videoMid === undefined || t.mid === this.#videoMid);
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
    this.#transceiver = t;
    this.#ingress.receiver = t.receiver;
    this.#subscribe(
      t.onTrack.subscribe((track) => this.#attachTrack(track)),
      t.receiver.onRtcp.subscribe((packet) => this.#onRtcp(packet)),
      // The router hands feedback to whichever side registered the SSRC it names, so PLIs for our
      // stream can land on the sender when the browser's sender SSRC is unknown to us.
      t.sender.onRtcp.subscribe((packet) => this.#onRtcp(packet)),
      t.receiver.onPacketLost.subscribe(() => void (this.#nacks.sent += 1)),
      t.sender.onGenericNack.subscribe(() => void (this.#nacks.received += 1)),
    );
    for (const track of t.receiver.tracks) this.#attachTrack(track);
  }

  #attachTrack(track: MediaStreamTrack): void {
    if (this.#attachedTracks.has(track)) return;
    this.#attachedTracks.add(track);
    this.#subscribe(track.onReceiveRtp.subscribe((rtp) => this.#onRtp(rtp)));
  }

  #onRtp(rtp: RtpPacket): void {
    if (this.#closePromise) return;
    this.#liveness.heard();
    this.#ingress.input(rtp);
  }

  #onRtcp(packet: RtcpPacket): void {
    // A viewer sends no media; its receiver reports are what shows it is still there.
    if (this.role === 'viewer') this.#liveness.heard();
    if (this.#closePromise || !this.#transceiver) return;
    this.#feedback.rtcp(packet, this.#transceiver.sender.ssrc);
  }

  #onConnectionState(state: string): void {
    this.#log.debug({ state }, 'webrtc connection state');
    if (this.#closePromise) return;
    switch (state) {
      case 'connected':
        this.#liveness.connected();
        // A viewer's receiver reports only start once our media reaches it.
        if (this.role === 'viewer') this.#liveness.heard();
        if (!this.#wasConnected) {
          this.#wasConnected = true;
          this.#feedback.connected();
        }
        break;
      case 'disconnected':
        this.#liveness.disconnected();
        break;
      case 'failed':
        void this.#shutdown('ice-failed');
        break;
      case 'closed':
        void this.#shutdown('closed');
        break;
    }
  }

  startIdleTimer(): void {
    if (!this.#closePromise) this.#liveness.startIdleTimer();
  }

  onFrame(cb: (frame: EncodedVideoFrame) => void): () => void {
    return this.#frames.add(cb);
  }

  sendRtp(packets: readonly RtpPacket[], keyframe: boolean): Promise<boolean> {
    const canSend = !this.#closePromise && this.sendsVideo && this.pc.connectionState === 'connected';
    return this.#egress.send(canSend ? this.#transceiver?.sender : undefined, packets, keyframe);
  }

  requestKeyframe(reason: KeyframeRequestReason): boolean {
    return this.#closePromise ? false : this.#ingress.requestKeyframe(reason);
  }

  onKeyframeRequest(cb: (source: KeyframeRequestSource) => void): () => void {
    return this.#keyframeRequests.add(cb);
  }

  onClosed(cb: (reason: CloseReason) => void): () => void {
    if (this.#closedDone) {
      const reason = this.closeReason ?? 'closed';
      queueMicrotask(() => {
        try {
          cb(reason);
        } catch (err) {
          this.#log.error({ err }, 'onClosed listener threw');
        }
      });
      return () => {};
    }
    return this.#closedListeners.add(cb);
  }

  async addIceCandidate(candidate: RTCIceCandidateInit | null): Promise<void> {
    if (this.#closePromise) return;
    if (candidate?.candidate && ++this.iceCandidates > this.#maxCandidates) {
      throw new SdpLimitError(`this session has had ${this.#maxCandidates} ICE candidates, the limit (MAX_ICE_CANDIDATES_PER_SESSION)`);
    }
    await this.pc.addIceCandidate(candidate ?? undefined).catch((err: unknown) => {
      throw new BadRequestError(`invalid ICE candidate: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
  }

  stats(): PeerSessionStats {
    return {
      codec: this.codec,
      payloadType: this.#payloadType,
      connectionState: this.pc.connectionState,
      localSsrc: this.#transceiver?.sender.ssrc ?? 0,
      ...this.#ingress.stats(),
      ...this.#egress.stats(),
      plisReceived: this.#feedback.plisReceived,
      firsReceived: this.#feedback.firsReceived,
      nacksSent: this.#nacks.sent,
      nacksReceived: this.#nacks.received,
    };
  }

  close(): Promise<void> {
    return this.#shutdown('closed');
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #shutdown(reason: CloseReason): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    this.closeReason = reason;
    this.#closePromise = (async () => {
      this.#log.info({ reason }, 'webrtc session closing');
      this.#liveness.stop();
      for (const unsubscribe of this.#subscriptions.splice(0)) unsubscribe();
      this.#ingress.close();
      this.#frames.clear();
      this.#keyframeRequests.clear();
      try {
        await this.#egress.flush();
        await this.pc.close();
      } catch (err) {
        this.#log.warn({ err }, 'closing the peer connection failed');
      }
      this.#closedDone = true;
      this.#closedListeners.emit(reason);
      this.#closedListeners.clear();
    })();
    return this.#closePromise;
  }

  #subscribe(...subs: { unSubscribe: () => void }[]): void {
    for (const s of subs) this.#subscriptions.push(() => s.unSubscribe());
  }
}

import { ClientError } from './client-error';
import type { Backend, CloseReason, SessionInfo, SessionOptions, SessionStats, IceCandidate, SetOptionsRequest } from './contract';
import { request, waitForSocket, type LiveSocket } from './socket-request';
import { preferResolution, waitForIceGathering } from './webrtc-util';

export interface LiveSessionSettings {
  modelId: string;
  smoothing: number;
  /** Absent: auto, the server's choice for the model and its provider. */
  processingShortSidePx?: number;
  /** The server's STUN/TURN servers (from /api/health); none needed on one machine or a LAN. */
  iceServers?: RTCIceServer[];
}

export interface LiveSessionHandlers {
  onRemoteStream(stream: MediaStream): void;
  onStats(stats: SessionStats): void;
  onModelChanged(info: { modelId: string; backend: Backend }): void;
  /** A problem the session survives, e.g. a model that failed to load while the old one keeps running. */
  onError(err: ClientError): void;
  /** The session ended without close() being called; it is already torn down. */
  onLost(err: ClientError): void;
}

// Non-trickle: the server answers once, so the offer should carry its candidates. On a
// host-only network gathering finishes in milliseconds; the cap covers a stuck interface.
const ICE_GATHER_CAP_MS = 2000;
const SOCKET_CONNECT_WAIT_MS = 10_000;
// The server loads the model (and may warm it up) before it answers.
const START_ACK_TIMEOUT_MS = 30_000;
const MODEL_ACK_TIMEOUT_MS = 60_000;
const OPTIONS_ACK_TIMEOUT_MS = 10_000;
const MEDIA_CONNECT_TIMEOUT_MS = 15_000;

const CLOSE_WORDING: Record<CloseReason, string> = {
  stopped: 'The server ended the session.',
  disconnected: 'The server lost track of this browser.',
  'ice-failed': 'The video connection to the server failed.',
  'idle-timeout': 'The session ended because no video reached the server.',
  'server-shutdown': 'The server is shutting down.',
  error: 'The session stopped because of a server error.',
};

/**
 * One live translation session: a peer connection that sends the camera track and receives
 * the translated track, plus the socket.io signalling around it. It does not own the camera
 * stream (the page keeps it across reconnects) nor the socket.
 */
export class LiveSession {
  private readonly socket: LiveSocket;
  private readonly stream: MediaStream;
  private readonly handlers: LiveSessionHandlers;
  private pc: RTCPeerConnection | null = null;
  private sessionId: string | null = null;
  private closed = false;
  private offerSent = false;
  private queuedCandidates: IceCandidate[] = [];
  private mediaTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly detachers: Array<() => void> = [];

  constructor(socket: LiveSocket, stream: MediaStream, handlers: LiveSessionHandlers) {
    this.socket = socket;
    this.stream = stream;
    this.handlers = handlers;
  }

  get id(): string | null {
    return this.sessionId;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async start(settings: LiveSessionSettings): Promise<SessionInfo> {
    if (this.pc) throw new ClientError('BAD_REQUEST', 'This session was already started.');
    const track = this.stream.getVideoTracks()[0];
    if (!track) throw new ClientError('NO_CAMERA', 'The camera stream has no video track.');
    if (typeof RTCPeerConnection === 'undefined') {
      throw new ClientError('UNSUPPORTED_BROWSER', 'This browser does not support WebRTC.');
    }

    const pc = new RTCPeerConnection({ iceServers: settings.iceServers ?? [] });
    this.pc = pc;
    const transceiver = pc.addTransceiver(track, { direction: 'sendrecv', streams: [this.stream] });
    await preferResolution(transceiver.sender);

    pc.ontrack = (ev) => {
      if (this.closed) return;
      this.handlers.onRemoteStream(ev.streams[0] ?? new MediaStream([ev.track]));
    };
    pc.onicecandidate = (ev) => this.onLocalCandidate(ev.candidate);
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'connected') this.clearMediaTimer();
      if (pc.connectionState === 'failed') {
        this.lose(new ClientError('ICE_FAILED', 'The video connection to the server failed.'));
      }
    };
    this.attachSocket();

    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, ICE_GATHER_CAP_MS);
    this.throwIfClosed();
    await waitForSocket(this.socket, SOCKET_CONNECT_WAIT_MS);
    this.throwIfClosed();

    const offerSdp = pc.localDescription?.sdp;
    if (!offerSdp) throw new ClientError('SDP_MALFORMED', 'The browser produced no offer.');
    this.offerSent = true;
    const info = await request<SessionInfo>(
      this.socket,
      (ack) =>
        this.socket.emit(
          'session:start',
          {
            offerSdp,
            modelId: settings.modelId,
            smoothing: settings.smoothing,
            ...(settings.processingShortSidePx !== undefined ? { processingShortSidePx: settings.processingShortSidePx } : {}),
          },
          ack,
        ),
      START_ACK_TIMEOUT_MS,
    );
    this.sessionId = info.sessionId;
    // close() during the wait could not stop a session the server had not created yet.
    if (this.closed) {
      this.emitStop();
      throw new ClientError('SESSION_CLOSED', 'The session was stopped while starting.');
    }

    await pc.setRemoteDescription({ type: 'answer', sdp: info.answerSdp });
    this.throwIfClosed();
    for (const c of this.queuedCandidates.splice(0)) this.socket.emit('session:ice', c);
    if (pc.connectionState !== 'connected') {
      this.mediaTimer = setTimeout(() => {
        this.lose(new ClientError('ICE_FAILED', 'No video connection to the server could be made.'));
      }, MEDIA_CONNECT_TIMEOUT_MS);
    }
    return info;
  }

  async setModel(modelId: string): Promise<{ modelId: string; backend: Backend }> {
    this.assertLive();
    return request<{ modelId: string; backend: Backend }>(
      this.socket,
      (ack) => this.socket.emit('session:model', { modelId }, ack),
      MODEL_ACK_TIMEOUT_MS,
    );
  }

  async setOptions(options: SetOptionsRequest): Promise<SessionOptions> {
    this.assertLive();
    return request<SessionOptions>(
      this.socket,
      (ack) => this.socket.emit('session:options', options, ack),
      OPTIONS_ACK_TIMEOUT_MS,
    );
  }

  /** Idempotent. Tells the server to stop (when it knows the session) and closes the peer connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emitStop();
    this.teardown();
  }

  private lose(err: ClientError): void {
    if (this.closed) return;
    this.closed = true;
    this.teardown();
    this.handlers.onLost(err);
  }

  private teardown(): void {
    this.clearMediaTimer();
    for (const detach of this.detachers.splice(0)) detach();
    if (this.pc) {
      this.pc.ontrack = null;
      this.pc.onicecandidate = null;
      this.pc.onconnectionstatechange = null;
      this.pc.close();
    }
  }

  private emitStop(): void {
    // Without a session id the server has nothing to stop yet; start() sends the stop once the ack lands.
    if (this.sessionId && this.socket.connected) this.socket.emit('session:stop');
  }

  private onLocalCandidate(candidate: RTCIceCandidate | null): void {
    if (!candidate || !candidate.candidate || !this.offerSent || this.closed) return;
    const init: IceCandidate = { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex };
    if (this.sessionId) this.socket.emit('session:ice', init);
    else this.queuedCandidates.push(init);
  }

  private attachSocket(): void {
    const onStats = (stats: SessionStats) => {
      if (this.sessionId && stats.sessionId === this.sessionId) this.handlers.onStats(stats);
    };
    const onError = (err: { code: ClientError['code']; message: string }) => {
      if (this.offerSent && !this.closed) this.handlers.onError(new ClientError(err.code, err.message));
    };
    const onClosed = (info: { sessionId: string; reason: CloseReason }) => {
      if (!this.sessionId || info.sessionId !== this.sessionId) return;
      this.lose(new ClientError('SESSION_CLOSED', CLOSE_WORDING[info.reason] ?? 'The session ended.'));
    };
    const onModelChanged = (info: { modelId: string; backend: Backend }) => {
      if (this.sessionId && !this.closed) this.handlers.onModelChanged(info);
    };
    const onDisconnect = () => {
      // The server drops a session when its socket goes away, so a reconnect needs a new session.
      if (this.offerSent) this.lose(new ClientError('CONNECTION_LOST', 'The connection to the server was lost.'));
    };
    this.socket.on('session:stats', onStats);
    this.socket.on('session:error', onError);
    this.socket.on('session:closed', onClosed);
    this.socket.on('session:model-changed', onModelChanged);
    this.socket.on('disconnect', onDisconnect);
    this.detachers.push(() => {
      this.socket.off('session:stats', onStats);
      this.socket.off('session:error', onError);
      this.socket.off('session:closed', onClosed);
      this.socket.off('session:model-changed', onModelChanged);
      this.socket.off('disconnect', onDisconnect);
    });
  }

  private clearMediaTimer(): void {
    if (this.mediaTimer !== null) clearTimeout(this.mediaTimer);
    this.mediaTimer = null;
  }

  private throwIfClosed(): void {
    if (this.closed) throw new ClientError('SESSION_CLOSED', 'The session was stopped while starting.');
  }

  private assertLive(): void {
    if (this.closed || !this.sessionId) throw new ClientError('SESSION_CLOSED', 'There is no live session.');
  }
}

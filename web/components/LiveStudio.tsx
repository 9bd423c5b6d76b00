'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { fetchHealth } from '../lib/api';
import { ClientError, cameraError, toClientError } from '../lib/client-error';
import type { Backend, SessionStats } from '../lib/contract';
import { LiveSession } from '../lib/live-session';
import { useSocket, type SocketState } from '../lib/use-socket';
import { useModels, type ModelsState } from '../lib/use-models';
import { Controls, titleCase, type Phase, type ShortSideChoice } from './Controls';
import { EmbedSnippet } from './EmbedSnippet';
import { ErrorBanner } from './ErrorBanner';
import { StatsPanel } from './StatsPanel';
import { VideoPanel } from './VideoPanel';

const DEFAULT_SMOOTHING = 0.5;
// The server picks: its default, or less for a model too heavy for realtime on its CPU.
const DEFAULT_SHORT_SIDE: ShortSideChoice = 'auto';
const OPTIONS_DEBOUNCE_MS = 150;

const CAMERA_CONSTRAINTS: MediaStreamConstraints = {
  video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
  audio: false,
};

/** An error on screen. `fatal` ones ended the session; the others leave it running. */
interface ShownError {
  error: ClientError;
  fatal: boolean;
  /** The model the failure is about, for the wording. */
  modelId?: string;
}

export function LiveStudio() {
  const { socket, state: socketState } = useSocket();
  const { modelsState, models, selectedId: selectedModelId, setSelectedId: setSelectedModelId, reload: loadModels } = useModels(socketState);

  const [activeModelId, setActiveModelId] = useState<string | null>(null);
  const [modelBusy, setModelBusy] = useState(false);
  const [smoothing, setSmoothing] = useState(DEFAULT_SMOOTHING);
  const [shortSide, setShortSide] = useState<ShortSideChoice>(DEFAULT_SHORT_SIDE);

  const [phase, setPhase] = useState<Phase>('idle');
  const [shown, setShown] = useState<ShownError | null>(null);
  const [localStream, setLocalStream] = useState<MediaStream | null>(null);
  const [remoteStream, setRemoteStream] = useState<MediaStream | null>(null);
  const [stats, setStats] = useState<SessionStats | null>(null);
  const [backend, setBackend] = useState<Backend | null>(null);
  const [codec, setCodec] = useState<string | null>(null);
  // The session id doubles as the stream id viewers watch (embed page, WHEP).
  const [sessionId, setSessionId] = useState<string | null>(null);

  const sessionRef = useRef<LiveSession | null>(null);
  const streamRef = useRef<MediaStream | null>(null);
  // Bumped by every start and stop, so a slow camera prompt or start cannot revive a stopped page.
  const runRef = useRef(0);
  const activeModelRef = useRef<string | null>(null);
  const pendingModelRef = useRef<string | null>(null);
  const sentOptionsRef = useRef({ smoothing: DEFAULT_SMOOTHING, shortSide: DEFAULT_SHORT_SIDE });


  const releaseCamera = useCallback(() => {
    streamRef.current?.getTracks().forEach((t) => t.stop());
    streamRef.current = null;
    setLocalStream(null);
  }, []);

  const endSession = useCallback(() => {
    sessionRef.current?.close();
    sessionRef.current = null;
    activeModelRef.current = null;
    setActiveModelId(null);
    setSessionId(null);
    setRemoteStream(null);
    setStats(null);
    setModelBusy(false);
  }, []);

  const fail = useCallback((error: ClientError, modelId?: string) => {
    setShown({ error, fatal: true, modelId });
    setPhase('error');
  }, []);

  const start = useCallback(
    async (modelId: string) => {
      if (!socket || !modelId) return;
      endSession();
      const run = ++runRef.current;
      setShown(null);
      setPhase('connecting');
      setBackend(null);
      setCodec(null);

      let stream = streamRef.current;
      if (!stream || !stream.getVideoTracks().some((t) => t.readyState === 'live')) {
        releaseCamera();
        try {
          stream = await openCamera();
        } catch (err) {
          if (run === runRef.current) fail(err instanceof ClientError ? err : cameraError(err));
          return;
        }
        if (run !== runRef.current) {
          stream.getTracks().forEach((t) => t.stop());
          return;
        }
        streamRef.current = stream;
        setLocalStream(stream);
        const opened = stream;
        for (const track of opened.getVideoTracks()) {
          track.addEventListener('ended', () => {
            if (streamRef.current !== opened) return;
            endSession();
            releaseCamera();
            fail(new ClientError('CAMERA_ENDED', 'The camera stopped sending video.'));
          });
        }
      }

      const session: LiveSession = new LiveSession(socket, stream, {
        onRemoteStream: (s) => {
          if (sessionRef.current === session) setRemoteStream(s);
        },
        onStats: (s) => {
          if (sessionRef.current === session) setStats(s);
        },
        onModelChanged: (info) => {
          if (sessionRef.current !== session) return;
          activeModelRef.current = info.modelId;
          setActiveModelId(info.modelId);
          setSelectedModelId(info.modelId);
          setBackend(info.backend);
        },
        onError: (error) => {
          if (sessionRef.current !== session) return;
          // A failed switch leaves the old model running, so the picker goes back to it.
          if (activeModelRef.current) setSelectedModelId(activeModelRef.current);
          setShown({ error, fatal: false, modelId: pendingModelRef.current ?? undefined });
        },
        onLost: (error) => {
          if (sessionRef.current !== session) return;
          sessionRef.current = null;
          setSessionId(null);
          setRemoteStream(null);
          setStats(null);
          setModelBusy(false);
          fail(error);
        },
      });
      sessionRef.current = session;
      sentOptionsRef.current = { smoothing, shortSide };

      try {
        const iceServers = (await fetchHealth().catch(() => null))?.iceServers ?? [];
        const processingShortSidePx = shortSide === 'auto' ? undefined : shortSide;
        const info = await session.start({ modelId, smoothing, processingShortSidePx, iceServers });
        if (sessionRef.current !== session) return;
        activeModelRef.current = info.modelId;
        setActiveModelId(info.modelId);
        setSelectedModelId(info.modelId);
        setBackend(info.backend);
        setCodec(info.codec);
        setSessionId(info.sessionId);
        setPhase('live');
      } catch (err) {
        if (sessionRef.current !== session) return;
        session.close();
        sessionRef.current = null;
        setRemoteStream(null);
        fail(toClientError(err), modelId);
      }
    },
    [socket, smoothing, shortSide, endSession, releaseCamera, fail],
  );

  const stop = useCallback(() => {
    runRef.current++;
    endSession();
    releaseCamera();
    setShown(null);
    setBackend(null);
    setCodec(null);
    setPhase('idle');
  }, [endSession, releaseCamera]);

  const changeModel = useCallback(
    async (modelId: string) => {
      setSelectedModelId(modelId);
      const session = sessionRef.current;
      if (phase !== 'live' || !session || modelId === activeModelRef.current) return;
      setModelBusy(true);
      pendingModelRef.current = modelId;
      try {
        const res = await session.setModel(modelId);
        if (sessionRef.current !== session) return;
        activeModelRef.current = res.modelId;
        setActiveModelId(res.modelId);
        setSelectedModelId(res.modelId);
        setBackend(res.backend);
        setShown((prev) => (prev && !prev.fatal ? null : prev));
      } catch (err) {
        if (sessionRef.current !== session || session.isClosed) return;
        if (activeModelRef.current) setSelectedModelId(activeModelRef.current);
        setShown({ error: toClientError(err), fatal: false, modelId });
      } finally {
        pendingModelRef.current = null;
        if (sessionRef.current === session) setModelBusy(false);
      }
    },
    [phase],
  );

  // Slider drags fire many changes; the server gets the settled value.
  useEffect(() => {
    if (phase !== 'live') return;
    const session = sessionRef.current;
    const sent = sentOptionsRef.current;
    if (!session || (sent.smoothing === smoothing && sent.shortSide === shortSide)) return;
    const timer = setTimeout(() => {
      const req = {
        ...(sent.smoothing !== smoothing ? { smoothing } : {}),
        ...(sent.shortSide !== shortSide ? { processingShortSidePx: shortSide } : {}),
      };
      sentOptionsRef.current = { smoothing, shortSide };
      session.setOptions(req).catch((err: unknown) => {
        if (sessionRef.current === session && !session.isClosed) {
          setShown({ error: toClientError(err), fatal: false });
        }
      });
    }, OPTIONS_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [phase, smoothing, shortSide]);

  // Leaving the page: tell the server now rather than when the socket times out.
  useEffect(() => {
    const onPageHide = () => sessionRef.current?.close();
    window.addEventListener('pagehide', onPageHide);
    return () => {
      window.removeEventListener('pagehide', onPageHide);
      sessionRef.current?.close();
      sessionRef.current = null;
      streamRef.current?.getTracks().forEach((t) => t.stop());
      streamRef.current = null;
    };
  }, []);

  const titleOf = (id: string | null | undefined) => models?.find((m) => m.id === id)?.title ?? id ?? 'the model';
  const shownModel = models?.find((m) => m.id === (activeModelId ?? selectedModelId));
  const translation = shownModel ? `${titleCase(shownModel.from)} → ${titleCase(shownModel.to)}` : undefined;
  const canStart = (phase === 'idle' || phase === 'error') && socket !== null && models !== null && selectedModelId !== '';

  const banner = describeBanner({
    shown,
    modelsState,
    socketState,
    titleOf,
    activeModelId,
    // The picker always shows the model a restart would use (failed switches revert it).
    retryStart: () => void start(selectedModelId),
    reloadModels: () => {
      socket?.connect();
      void loadModels();
    },
    dismiss: () => setShown(null),
  });

  return (
    <div className="app">
      <header className="header">
        <div className="brand">
          <h1>cyclestream</h1>
          <p className="tagline">
            Realtime image-to-image translation of your webcam: frames go to the server over WebRTC, through a CycleGAN
            generator, and straight back.
          </p>
        </div>
        <ConnectionPill state={socketState} />
      </header>

      <main className="main">
        <div className="banner-slot">{banner}</div>

        <div className="panels">
          <VideoPanel
            label="You"
            detail={localStream ? 'Camera' : undefined}
            stream={localStream}
            testId="input-video"
            placeholder={phase === 'connecting' && !localStream ? 'Waiting for the camera…' : 'Camera off'}
            busy={phase === 'connecting' && !localStream}
            mirrored
          />
          <VideoPanel
            label="Translated"
            detail={translation}
            stream={remoteStream}
            testId="output-video"
            placeholder={outputPlaceholder(phase)}
            busy={phase === 'connecting' || phase === 'live'}
            mirrored
          />
        </div>

        <Controls
          phase={phase}
          models={models}
          modelsFailed={modelsState.kind === 'failed'}
          modelId={selectedModelId}
          modelBusy={modelBusy}
          smoothing={smoothing}
          shortSide={shortSide}
          processingPx={stats && stats.processingHeight > 0 ? Math.min(stats.processingWidth, stats.processingHeight) : null}
          canStart={canStart}
          onModelChange={(id) => void changeModel(id)}
          onSmoothingChange={setSmoothing}
          onShortSideChange={setShortSide}
          onStart={() => void start(selectedModelId)}
          onStop={stop}
        />

        <StatsPanel stats={stats} backend={backend} codec={codec} />

        {phase === 'live' && sessionId ? <EmbedSnippet streamId={sessionId} /> : null}
      </main>

      <footer className="footer">
        <span>cyclestream · CycleGAN image-to-image translation over WebRTC</span>
      </footer>
    </div>
  );
}

async function openCamera(): Promise<MediaStream> {
  if (typeof window !== 'undefined' && !window.isSecureContext) {
    throw new ClientError('INSECURE_CONTEXT', 'The camera is only available on https:// or localhost.');
  }
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new ClientError('UNSUPPORTED_BROWSER', 'This browser cannot open a camera.');
  }
  return navigator.mediaDevices.getUserMedia(CAMERA_CONSTRAINTS);
}

function outputPlaceholder(phase: Phase): string {
  switch (phase) {
    case 'idle':
      return 'Press Start to see the translation';
    case 'connecting':
      return 'Connecting…';
    case 'live':
      return 'Waiting for the first frame…';
    case 'error':
      return 'No video';
  }
}

function ConnectionPill({ state }: { state: SocketState }) {
  const text: Record<SocketState, string> = {
    connecting: 'connecting…',
    connected: 'server connected',
    reconnecting: 'reconnecting…',
    unreachable: 'server unreachable',
  };
  return (
    <span className={`pill pill-${state}`} data-testid="connection" aria-live="polite">
      <span className="pill-dot" aria-hidden="true" />
      {text[state]}
    </span>
  );
}

interface BannerContext {
  shown: ShownError | null;
  modelsState: ModelsState;
  socketState: SocketState;
  activeModelId: string | null;
  titleOf(id: string | null | undefined): string;
  retryStart(): void;
  reloadModels(): void;
  dismiss(): void;
}

function describeBanner(ctx: BannerContext) {
  const { shown } = ctx;
  if (shown) {
    const { error, fatal } = shown;
    const reconnecting = ctx.socketState !== 'connected';
    const tryAgain = { label: 'Try again', onClick: ctx.retryStart, testId: 'retry' };
    switch (error.code) {
      case 'CAMERA_DENIED':
        return (
          <ErrorBanner
            title="Camera access is blocked"
            detail="Allow the camera for this site (the camera icon in the address bar), then try again."
            action={tryAgain}
          />
        );
      case 'NO_CAMERA':
        return <ErrorBanner title="No camera found" detail="Connect a camera, then try again." action={tryAgain} />;
      case 'CAMERA_IN_USE':
        return (
          <ErrorBanner
            title="The camera could not start"
            detail="Another app or tab may be using it. Close it, then try again."
            action={tryAgain}
          />
        );
      case 'CAMERA_ENDED':
      case 'CAMERA_FAILED':
        return <ErrorBanner title="The camera stopped" detail={error.message} action={tryAgain} />;
      case 'INSECURE_CONTEXT':
      case 'UNSUPPORTED_BROWSER':
        return <ErrorBanner title="This page can't use the camera here" detail={error.message} />;
      case 'SERVER_BUSY':
        return (
          <ErrorBanner
            title="The server is busy"
            detail="Every translation slot is in use. Try again in a moment."
            action={tryAgain}
          />
        );
      case 'RATE_LIMITED':
        return <ErrorBanner title="Too many sessions from here" detail={`${error.message}. Stop one, then try again.`} action={tryAgain} />;
      case 'MODEL_LOAD_FAILED':
      case 'MODEL_NOT_FOUND':
      case 'PROVIDER_UNAVAILABLE':
        return fatal ? (
          <ErrorBanner
            title={`Couldn't load ${ctx.titleOf(shown.modelId)}`}
            detail={`${error.message} Pick another model or try again.`}
            action={tryAgain}
          />
        ) : (
          <ErrorBanner
            tone="warning"
            title={`Couldn't load ${ctx.titleOf(shown.modelId)}`}
            detail={`${error.message} Still translating with ${ctx.titleOf(ctx.activeModelId)}.`}
            onDismiss={ctx.dismiss}
          />
        );
      case 'CONNECTION_LOST':
      case 'SESSION_CLOSED':
      case 'ICE_FAILED':
      case 'TIMEOUT':
      case 'SERVER_UNREACHABLE':
        if (!fatal) break;
        return (
          <ErrorBanner
            title="Connection lost"
            detail={reconnecting ? `${error.message} Reconnecting to the server…` : error.message}
            action={{
              label: reconnecting ? 'Reconnecting…' : 'Reconnect',
              onClick: ctx.retryStart,
              disabled: reconnecting,
              testId: 'reconnect',
            }}
          />
        );
      default:
        break;
    }
    return fatal ? (
      <ErrorBanner title="Something went wrong" detail={error.message} action={tryAgain} />
    ) : (
      <ErrorBanner tone="warning" title="The server reported a problem" detail={error.message} onDismiss={ctx.dismiss} />
    );
  }
  if (ctx.modelsState.kind === 'failed') {
    return (
      <ErrorBanner
        title="Can't reach the cyclestream server"
        detail={`${ctx.modelsState.error.message} Check that the server is running; this page retries when it comes back.`}
        action={{ label: 'Retry', onClick: ctx.reloadModels, testId: 'retry' }}
      />
    );
  }
  if (ctx.modelsState.kind === 'ready' && ctx.modelsState.models.length === 0) {
    return (
      <ErrorBanner
        tone="warning"
        title="No models installed"
        detail="The server has no models to offer. Add models/<id>.onnx with its manifest, then retry."
        action={{ label: 'Retry', onClick: ctx.reloadModels, testId: 'retry' }}
      />
    );
  }
  return null;
}

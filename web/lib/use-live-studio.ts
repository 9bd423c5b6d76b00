'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import type { Phase, ShortSideChoice } from '../components/Controls';
import { fetchHealth } from './api';
import { ClientError, cameraError, toClientError } from './client-error';
import type { Backend, SessionStats } from './contract';
import { LiveSession } from './live-session';
import { useCamera } from './use-camera';
import { useModels } from './use-models';
import { useSocket } from './use-socket';

const DEFAULT_SMOOTHING = 0.5;
// The server picks: its default, or less for a model too heavy for realtime on its CPU.
const DEFAULT_SHORT_SIDE: ShortSideChoice = 'auto';
const OPTIONS_DEBOUNCE_MS = 150;

/** An error on screen. `fatal` ones ended the session; the others leave it running. */
export interface ShownError {
  error: ClientError;
  fatal: boolean;
  /** The model the failure is about, for the wording. */
  modelId?: string;
}

/**
 * The live page's state: the camera, one LiveSession at a time, and the model and options the
 * person picked, kept in step with what the server reports.
 */
export function useLiveStudio() {
  const { socket, state: socketState } = useSocket();
  const { modelsState, models, selectedId: selectedModelId, setSelectedId: setSelectedModelId, reload: loadModels } = useModels(socketState);

  const [activeModelId, setActiveModelId] = useState<string | null>(null);
  const [modelBusy, setModelBusy] = useState(false);
  const [smoothing, setSmoothing] = useState(DEFAULT_SMOOTHING);
  const [shortSide, setShortSide] = useState<ShortSideChoice>(DEFAULT_SHORT_SIDE);

  const [phase, setPhase] = useState<Phase>('idle');
  const [shown, setShown] = useState<ShownError | null>(null);
  const camera = useCamera();
  const [remoteStream, setRemoteStream] = useState<MediaStream | null>(null);
  const [stats, setStats] = useState<SessionStats | null>(null);
  const [backend, setBackend] = useState<Backend | null>(null);
  const [codec, setCodec] = useState<string | null>(null);
  // The session id doubles as the stream id viewers watch (embed page, WHEP).
  const [sessionId, setSessionId] = useState<string | null>(null);

  const sessionRef = useRef<LiveSession | null>(null);
  // Bumped by every start and stop, so a slow camera prompt or start cannot revive a stopped page.
  const runRef = useRef(0);
  const activeModelRef = useRef<string | null>(null);
  const pendingModelRef = useRef<string | null>(null);
  const sentOptionsRef = useRef({ smoothing: DEFAULT_SMOOTHING, shortSide: DEFAULT_SHORT_SIDE });

  const { live: liveCamera, open: openCamera, release: releaseCamera, stopTracks } = camera;

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

      let stream = liveCamera();
      if (!stream) {
        try {
          stream = await openCamera(
            () => run === runRef.current,
            () => {
              endSession();
              releaseCamera();
              fail(new ClientError('CAMERA_ENDED', 'The camera stopped sending video.'));
            },
          );
        } catch (err) {
          if (run === runRef.current) fail(err instanceof ClientError ? err : cameraError(err));
          return;
        }
        if (!stream) return;
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
    [socket, smoothing, shortSide, endSession, liveCamera, openCamera, releaseCamera, fail],
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
      stopTracks();
    };
  }, [stopTracks]);

  return {
    socket, socketState, modelsState, models, loadModels,
    selectedModelId, activeModelId, modelBusy, smoothing, setSmoothing, shortSide, setShortSide,
    phase, shown, setShown, localStream: camera.localStream, remoteStream, stats, backend, codec, sessionId,
    start, stop, changeModel,
  };
}

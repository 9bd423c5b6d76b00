'use client';

import { useLiveStudio } from '../lib/use-live-studio';
import { ConnectionPill } from './ConnectionPill';
import { Controls, titleCase, type Phase } from './Controls';
import { EmbedSnippet } from './EmbedSnippet';
import { LiveBanner } from './LiveBanner';
import { StatsPanel } from './StatsPanel';
import { VideoPanel } from './VideoPanel';

export function LiveStudio() {
  const {
    socket,
    socketState,
    modelsState,
    models,
    loadModels,
    selectedModelId,
    activeModelId,
    modelBusy,
    smoothing,
    setSmoothing,
    shortSide,
    setShortSide,
    phase,
    shown,
    setShown,
    localStream,
    remoteStream,
    stats,
    backend,
    codec,
    sessionId,
    start,
    stop,
    changeModel,
  } = useLiveStudio();

  const titleOf = (id: string | null | undefined) => models?.find((m) => m.id === id)?.title ?? id ?? 'the model';
  const shownModel = models?.find((m) => m.id === (activeModelId ?? selectedModelId));
  const translation = shownModel ? `${titleCase(shownModel.from)} → ${titleCase(shownModel.to)}` : undefined;
  const canStart = (phase === 'idle' || phase === 'error') && socket !== null && models !== null && selectedModelId !== '';

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
        <div className="banner-slot">
          <LiveBanner
            shown={shown}
            modelsState={modelsState}
            socketState={socketState}
            titleOf={titleOf}
            activeModelId={activeModelId}
            // The picker always shows the model a restart would use (failed switches revert it).
            retryStart={() => void start(selectedModelId)}
            reloadModels={() => {
              socket?.connect();
              void loadModels();
            }}
            dismiss={() => setShown(null)}
          />
        </div>

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

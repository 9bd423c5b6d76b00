'use client';

import { useEffect, useRef, useState } from 'react';
import { ClientError, toClientError } from '../lib/client-error';
import { describeError } from '../lib/describe-error';
import { loadJobTokens } from '../lib/job-tokens';
import { translateImageFile, uploadVideo, type UploadHandle } from '../lib/jobs-api';
import { useModels } from '../lib/use-models';
import { useSocket } from '../lib/use-socket';
import { useUploadJobs } from '../lib/use-upload-jobs';
import { ConnectionPill } from './ConnectionPill';
import { ErrorBanner } from './ErrorBanner';
import { ImageResultView, type ImageResult } from './ImageResultView';
import { JobList } from './JobList';
import { JobView } from './JobView';
import { UploadForm, type UploadMode } from './UploadForm';

export function UploadStudio() {
  const { socket, state: socketState } = useSocket();
  const { modelsState, models, selectedId: modelId, setSelectedId: setModelId, reload: loadModels } = useModels(socketState, 'file');
  const [mode, setMode] = useState<UploadMode>('video');
  const [smoothing, setSmoothing] = useState(0.5);
  const [size, setSize] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [uploading, setUploading] = useState<number | null>(null);
  const [imageBusy, setImageBusy] = useState(false);
  const [error, setError] = useState<ClientError | null>(null);
  const [image, setImage] = useState<ImageResult | null>(null);
  const uploadRef = useRef<UploadHandle | null>(null);
  const { jobs, currentId, setCurrentId, addJob, cancel } = useUploadJobs(socket, socketState, setError);

  // Object URLs of the image mode hold whole images in memory until revoked.
  useEffect(
    () => () => {
      if (image) {
        URL.revokeObjectURL(image.originalUrl);
        URL.revokeObjectURL(image.translated.url);
      }
    },
    [image],
  );

  const chooseMode = (next: UploadMode) => {
    if (next === mode) return;
    setMode(next);
    setFile(null);
    setError(null);
  };

  const submitVideo = async () => {
    if (!file || !modelId) return;
    setError(null);
    setUploading(0);
    const handle = uploadVideo(file, { modelId, smoothing, size }, (f) => setUploading(f));
    uploadRef.current = handle;
    try {
      const { token, ...job } = await handle.promise;
      addJob(job, token);
      setFile(null);
    } catch (err) {
      setError(toClientError(err));
    } finally {
      uploadRef.current = null;
      setUploading(null);
    }
  };

  const submitImage = async () => {
    if (!file || !modelId) return;
    setError(null);
    setImageBusy(true);
    try {
      const translated = await translateImageFile(file, modelId);
      setImage({ originalUrl: URL.createObjectURL(file), name: file.name, translated });
    } catch (err) {
      setError(toClientError(err));
    } finally {
      setImageBusy(false);
    }
  };

  const current = currentId ? (jobs.get(currentId) ?? null) : null;
  const currentToken = current ? loadJobTokens().get(current.id) : undefined;
  const busy = uploading !== null || imageBusy;
  const canSubmit = file !== null && modelId !== '' && !busy;
  const modelTitle = (id: string) => models?.find((m) => m.id === id)?.title ?? id;

  const jobError = current?.state === 'failed' && current.error ? new ClientError(current.error.code, current.error.message) : null;
  const shownError = error ?? jobError;
  const modelsError = modelsState.kind === 'failed' ? modelsState.error : null;

  return (
    <div className="app">
      <header className="header">
        <div className="brand">
          <h1>cyclestream</h1>
          <p className="tagline">
            Translate a recorded video or a photo: upload it, watch the progress, and download the result with its sound
            intact.
          </p>
        </div>
        <ConnectionPill state={socketState} />
      </header>

      <main className="main">
        <div className="banner-slot">
          {shownError ? (
            <ErrorBanner {...describeError(shownError)} onDismiss={error ? () => setError(null) : undefined} />
          ) : modelsError ? (
            <ErrorBanner
              title="Models unavailable"
              detail={modelsError.message}
              action={{ label: 'Try again', onClick: () => void loadModels() }}
            />
          ) : null}
        </div>

        <UploadForm
          mode={mode}
          file={file}
          models={models}
          modelsFailed={modelsState.kind === 'failed'}
          modelId={modelId}
          smoothing={smoothing}
          size={size}
          uploading={uploading}
          imageBusy={imageBusy}
          busy={busy}
          canSubmit={canSubmit}
          onModeChange={chooseMode}
          onFile={(f) => {
            setFile(f);
            setError(null);
          }}
          onModelChange={setModelId}
          onSmoothingChange={setSmoothing}
          onSizeChange={setSize}
          onSubmit={() => void (mode === 'video' ? submitVideo() : submitImage())}
          onCancelUpload={() => uploadRef.current?.abort()}
        />

        {mode === 'video' && current ? (
          <JobView job={current} token={currentToken} modelTitle={modelTitle} onCancel={(id) => void cancel(id)} />
        ) : null}

        {mode === 'image' && image ? <ImageResultView image={image} modelId={modelId} /> : null}

        <JobList
          jobs={[...jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt))}
          currentId={currentId}
          modelTitle={modelTitle}
          onView={(id) => {
            setMode('video');
            setCurrentId(id);
          }}
          onCancel={(id) => void cancel(id)}
        />
      </main>

      <footer className="footer">
        <span>cyclestream · CycleGAN image-to-image translation</span>
      </footer>
    </div>
  );
}

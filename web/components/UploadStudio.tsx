'use client';

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ClientError, toClientError } from '../lib/client-error';
import type { JobInfo, JobProgress } from '../lib/contract';
import { forgetJobTokens, loadJobTokens, saveJobToken, withToken } from '../lib/job-tokens';
import { cancelJob, fetchJob, fetchJobs, translateImageFile, uploadVideo, type TranslatedImage, type UploadHandle } from '../lib/jobs-api';
import { useSocket } from '../lib/use-socket';
import { useModels } from '../lib/use-models';
import { titleCase } from './Controls';
import { DropZone } from './DropZone';
import { ErrorBanner } from './ErrorBanner';
import { SmoothingSlider } from './SmoothingSlider';
import { JobList } from './JobList';
import { ProgressBar } from './ProgressBar';
import { ModelOptions } from './ModelOptions';

type Mode = 'video' | 'image';

const SIZES = [
  { value: '', label: 'Same as the source' },
  { value: '1920x', label: '1920 wide' },
  { value: '1280x', label: '1280 wide' },
  { value: '854x', label: '854 wide' },
  { value: '640x', label: '640 wide' },
] as const;

// What the server reads: MP4/MOV and Matroska/WebM, told apart by their bytes, not their names.
const VIDEO_ACCEPT = 'video/mp4,video/quicktime,video/webm,video/x-matroska,.mp4,.m4v,.mov,.webm,.mkv';
const IMAGE_ACCEPT = 'image/jpeg,image/png,image/webp,.jpg,.jpeg,.png,.webp';

/** While the socket is down, running jobs are polled instead. */
const POLL_MS = 2000;

interface ImageResult {
  originalUrl: string;
  name: string;
  translated: TranslatedImage;
}

const ACTIVE = new Set(['queued', 'running']);

export function UploadStudio() {
  const { socket, state: socketState } = useSocket();
  const { modelsState, models, selectedId: modelId, setSelectedId: setModelId, reload: loadModels } = useModels(socketState, 'file');
  const [mode, setMode] = useState<Mode>('video');
  const [smoothing, setSmoothing] = useState(0.5);
  const [size, setSize] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [uploading, setUploading] = useState<number | null>(null);
  const [imageBusy, setImageBusy] = useState(false);
  const [jobs, setJobs] = useState<Map<string, JobInfo>>(new Map());
  const [currentId, setCurrentId] = useState<string | null>(null);
  const [error, setError] = useState<ClientError | null>(null);
  const [image, setImage] = useState<ImageResult | null>(null);
  const uploadRef = useRef<UploadHandle | null>(null);


  const mergeJob = useCallback((job: JobInfo) => {
    if (job.state === 'deleted') forgetJobTokens([job.id]);
    setJobs((prev) => {
      const next = new Map(prev);
      if (job.state === 'deleted') next.delete(job.id);
      else next.set(job.id, job);
      return next;
    });
  }, []);

  const mergeProgress = useCallback((p: JobProgress) => {
    setJobs((prev) => {
      const job = prev.get(p.id);
      // A late progress event must not undo a state the job has already left.
      if (!job || !ACTIVE.has(job.state)) return prev;
      const next = new Map(prev);
      next.set(p.id, { ...job, ...p });
      return next;
    });
  }, []);

  // This browser's jobs are the ones whose tokens it kept; tokens of jobs the server no longer has are dropped.
  const loadJobs = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const tokens = loadJobTokens();
        const list = await fetchJobs([...tokens.values()], signal);
        if (signal?.aborted) return;
        const present = new Set(list.map((j) => j.id));
        forgetJobTokens([...tokens.keys()].filter((id) => !present.has(id)));
        setJobs(new Map(list.map((j) => [j.id, j])));
      } catch (err) {
        if (!signal?.aborted) setError(toClientError(err));
      }
    },
    [],
  );

  /** Joins a job's event room on the socket; the ack brings the job as it is now. */
  const watchJob = useCallback(
    (id: string, token: string) => {
      socket?.emit('job:watch', { id, token }, (res) => {
        if (res.ok) mergeJob(res.job);
      });
    },
    [socket, mergeJob],
  );

  useEffect(() => {
    const ctrl = new AbortController();
    void loadJobs(ctrl.signal);
    return () => ctrl.abort();
  }, [loadJobs]);

  useEffect(() => {
    if (!socket) return;
    const onUpdate = (job: JobInfo) => mergeJob(job);
    const onProgress = (p: JobProgress) => mergeProgress(p);
    // Events missed while disconnected: the list is read again, and every job watched again, on each (re)connect.
    const onConnect = () => {
      void loadJobs();
      for (const [id, token] of loadJobTokens()) watchJob(id, token);
    };
    if (socket.connected) onConnect();
    socket.on('job:update', onUpdate);
    socket.on('job:progress', onProgress);
    socket.on('connect', onConnect);
    return () => {
      socket.off('job:update', onUpdate);
      socket.off('job:progress', onProgress);
      socket.off('connect', onConnect);
    };
  }, [socket, mergeJob, mergeProgress, loadJobs, watchJob]);

  const activeIds = useMemo(() => [...jobs.values()].filter((j) => ACTIVE.has(j.state)).map((j) => j.id), [jobs]);
  useEffect(() => {
    if (socketState === 'connected' || activeIds.length === 0) return;
    const timer = setInterval(() => {
      const tokens = loadJobTokens();
      for (const id of activeIds) {
        const token = tokens.get(id);
        if (token) fetchJob(id, token).then(mergeJob, () => undefined);
      }
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [socketState, activeIds, mergeJob]);


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

  const chooseMode = (next: Mode) => {
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
      saveJobToken(job.id, token);
      watchJob(job.id, token);
      // The socket may already have said "running": the upload's answer must not set it back to "queued".
      setJobs((prev) => (prev.has(job.id) ? prev : new Map(prev).set(job.id, job)));
      setCurrentId(job.id);
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

  const cancel = async (id: string) => {
    const token = loadJobTokens().get(id);
    if (!token) return;
    try {
      const job = await cancelJob(id, token);
      if (job) mergeJob(job);
      else {
        mergeJob({ ...jobs.get(id)!, state: 'deleted' });
        if (currentId === id) setCurrentId(null);
      }
    } catch (err) {
      setError(toClientError(err));
    }
  };

  const current = currentId ? (jobs.get(currentId) ?? null) : null;
  const currentToken = current ? loadJobTokens().get(current.id) : undefined;
  const busy = uploading !== null || imageBusy;
  const canSubmit = file !== null && modelId !== '' && !busy;
  const modelTitle = (id: string) => models?.find((m) => m.id === id)?.title ?? id;
  const selected = models?.find((m) => m.id === modelId);

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
        <span className={`pill pill-${socketState}`} data-testid="connection" aria-live="polite">
          <span className="pill-dot" aria-hidden="true" />
          {socketState === 'connected' ? 'server connected' : socketState === 'unreachable' ? 'server unreachable' : `${socketState}…`}
        </span>
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

        <section className="upload-form" aria-label="Upload">
          <div className="mode-switch" role="tablist" aria-label="What to translate">
            {(['video', 'image'] as const).map((m) => (
              <button
                key={m}
                type="button"
                role="tab"
                aria-selected={mode === m}
                className={`mode-tab${mode === m ? ' mode-tab-active' : ''}`}
                data-testid={`mode-${m}`}
                onClick={() => chooseMode(m)}
                disabled={busy}
              >
                {m === 'video' ? 'Video' : 'Image'}
              </button>
            ))}
          </div>

          <DropZone
            file={file}
            accept={mode === 'video' ? VIDEO_ACCEPT : IMAGE_ACCEPT}
            kind={mode}
            disabled={busy}
            onFile={(f) => {
              setFile(f);
              setError(null);
            }}
          />

          <div className="upload-options">
            <div className="control">
              <label htmlFor="model-select">Model</label>
              <select
                id="model-select"
                data-testid="model-select"
                value={modelId}
                disabled={!models || models.length === 0 || busy}
                onChange={(e) => setModelId(e.target.value)}
              >
                <ModelOptions models={models} failed={modelsState.kind === 'failed'} />
              </select>
              <span className="control-hint">{selected ? (selected.summary ?? `${titleCase(selected.from)} → ${titleCase(selected.to)}`) : '\u00a0'}</span>
            </div>

            {mode === 'video' ? (
              <>
                <div className="control">
                  <SmoothingSlider id="upload-smoothing" testId="upload-smoothing" value={smoothing} disabled={busy} onChange={setSmoothing} />
                </div>
                <div className="control">
                  <label htmlFor="upload-size">Output size</label>
                  <select id="upload-size" data-testid="upload-size" value={size} disabled={busy} onChange={(e) => setSize(e.target.value)}>
                    {SIZES.map((s) => (
                      <option key={s.value} value={s.value}>
                        {s.label}
                      </option>
                    ))}
                  </select>
                  <span className="control-hint">Height follows the aspect ratio</span>
                </div>
              </>
            ) : null}

            <div className="control control-actions">
              <button
                type="button"
                className="button button-primary"
                data-testid="upload-submit"
                disabled={!canSubmit}
                onClick={() => void (mode === 'video' ? submitVideo() : submitImage())}
              >
                {uploading !== null ? 'Uploading…' : imageBusy ? 'Translating…' : 'Translate'}
              </button>
              {uploading !== null ? (
                <button type="button" className="button button-ghost" onClick={() => uploadRef.current?.abort()}>
                  Cancel upload
                </button>
              ) : null}
            </div>
          </div>

          {uploading !== null ? (
            <ProgressBar fraction={uploading} label={`Uploading ${Math.floor(uploading * 100)} %`} testId="upload-progress" />
          ) : null}
        </section>

        {mode === 'video' && current ? (
          <section className="job-view" aria-label="Current job">
            <div className="job-view-head">
              <div>
                <strong className="job-name">{current.inputName}</strong>
                <span className="job-meta">
                  {modelTitle(current.modelId)} · {current.outputWidth}x{current.outputHeight} · {current.source.frames} frames
                  {current.source.audio !== 'none' ? ` · sound ${current.source.audio === 'copy' ? 'kept' : 'converted to AAC'}` : ' · no sound'}
                </span>
              </div>
              <span className={`status job-state-${current.state}`} data-testid="job-state" aria-live="polite">
                {current.state}
              </span>
            </div>
            <ProgressBar
              fraction={current.framesTotal > 0 ? current.framesDone / current.framesTotal : 0}
              label={progressLabel(current)}
              testId="progress"
            />
            {current.state === 'done' && current.resultUrl ? (
              <>
                <div className="panels">
                  <ResultVideo label="Original" src={withToken(current.inputUrl, currentToken)} testId="original-video" />
                  <ResultVideo label="Translated" src={withToken(current.resultUrl, currentToken)} testId="result-video" />
                </div>
                <div className="buttons">
                  <a className="button button-primary" data-testid="download" href={withToken(`${current.resultUrl}?download=1`, currentToken)} download>
                    Download MP4{current.resultBytes ? ` (${formatBytes(current.resultBytes)})` : ''}
                  </a>
                </div>
              </>
            ) : null}
            {ACTIVE.has(current.state) ? (
              <div className="buttons">
                <button type="button" className="button button-secondary" data-testid="cancel-job" onClick={() => void cancel(current.id)}>
                  Cancel
                </button>
              </div>
            ) : null}
          </section>
        ) : null}

        {mode === 'image' && image ? (
          <section className="job-view" aria-label="Translated image">
            <div className="panels">
              <figure className="panel">
                <figcaption className="panel-label">
                  <span className="panel-title">Original</span>
                  <span className="panel-detail">{image.name}</span>
                </figcaption>
                <div className="panel-frame">
                  {/* eslint-disable-next-line @next/next/no-img-element -- a local object URL, nothing to optimise */}
                  <img className="video" src={image.originalUrl} alt="The uploaded image" />
                </div>
              </figure>
              <figure className="panel">
                <figcaption className="panel-label">
                  <span className="panel-title">Translated</span>
                  <span className="panel-detail">
                    {image.translated.width}x{image.translated.height}
                  </span>
                </figcaption>
                <div className="panel-frame">
                  {/* eslint-disable-next-line @next/next/no-img-element -- a local object URL, nothing to optimise */}
                  <img className="video" data-testid="result-image" src={image.translated.url} alt="The translated image" />
                </div>
              </figure>
            </div>
            <div className="buttons">
              <a
                className="button button-primary"
                data-testid="download"
                href={image.translated.url}
                download={`${image.name.replace(/\.[^.]+$/, '')}-${modelId}.${extensionOf(image.translated.type)}`}
              >
                Download image ({formatBytes(image.translated.bytes)})
              </a>
            </div>
          </section>
        ) : null}

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

function ResultVideo({ label, src, testId }: { label: string; src: string; testId: string }) {
  const [failed, setFailed] = useState(false);
  return (
    <figure className="panel">
      <figcaption className="panel-label">
        <span className="panel-title">{label}</span>
      </figcaption>
      <div className="panel-frame">
        <video className="video" data-testid={testId} src={src} controls playsInline preload="metadata" onError={() => setFailed(true)} />
        {failed ? (
          <div className="panel-placeholder">
            <span>This browser cannot play this video; download it instead.</span>
          </div>
        ) : null}
      </div>
    </figure>
  );
}

function progressLabel(job: JobInfo): string {
  switch (job.state) {
    case 'queued':
      return 'Waiting for its turn…';
    case 'running': {
      const parts = [`${job.framesDone} / ${job.framesTotal} frames`];
      if (job.fps > 0) parts.push(`${job.fps.toFixed(1)} fps`);
      if (job.etaS !== null) parts.push(`ETA ${formatDuration(job.etaS)}`);
      return parts.join(' · ');
    }
    case 'done':
      return `Done: ${job.framesDone} frames`;
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return `Cancelled after ${job.framesDone} frames`;
    default:
      return job.state;
  }
}

export function formatDuration(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.ceil(s - m * 60)} s`;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} kB`;
  return `${n} B`;
}

function extensionOf(type: string): string {
  return type === 'image/jpeg' ? 'jpg' : type === 'image/webp' ? 'webp' : 'png';
}

/** Words for a person: what went wrong and what to do about it. */
export function describeError(err: ClientError): { title: string; detail: string } {
  const titles: Partial<Record<ClientError['code'], string>> = {
    MEDIA_INVALID: 'That file cannot be used',
    MEDIA_UNSUPPORTED: 'That kind of file is not supported',
    NO_VIDEO: 'There is no video in that file',
    UNSUPPORTED_CODEC: 'That video format is not supported',
    FRAME_TOO_LARGE: 'The picture is too large',
    UPLOAD_TOO_LARGE: 'The file is too big',
    MODEL_NOT_FOUND: 'That model is not installed',
    MODEL_ID_INVALID: 'That model name is not valid',
    MODEL_LOAD_FAILED: 'The model could not be loaded',
    BAD_REQUEST: 'The request was refused',
    SERVER_UNREACHABLE: 'The server cannot be reached',
    JOB_NOT_FOUND: 'That job no longer exists',
    JOB_ABANDONED: 'The job was given up',
    VIDEO_TOO_LONG: 'The video is too long',
    RATE_LIMITED: 'You have too many jobs waiting',
    SERVER_BUSY: 'The server is busy',
    STORE_FAILED: 'The server could not save the job',
    CODEC_ERROR: 'The video could not be processed',
    INFERENCE_ERROR: 'The model failed on this video',
  };
  return { title: titles[err.code] ?? 'Something went wrong', detail: err.message };
}

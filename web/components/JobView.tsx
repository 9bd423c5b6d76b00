'use client';

import { useState } from 'react';
import type { JobInfo } from '../lib/contract';
import { ACTIVE_STATES, formatBytes, progressLabel } from '../lib/job-format';
import { withToken } from '../lib/job-tokens';
import { ProgressBar } from './ProgressBar';

interface JobViewProps {
  job: JobInfo;
  /** The job's access token, added to its media URLs; undefined when this browser has none. */
  token: string | undefined;
  modelTitle(id: string): string;
  onCancel(id: string): void;
}

/** The video job the page shows: its progress, then the original and the result side by side. */
export function JobView({ job, token, modelTitle, onCancel }: JobViewProps) {
  return (
    <section className="job-view" aria-label="Current job">
      <div className="job-view-head">
        <div>
          <strong className="job-name">{job.inputName}</strong>
          <span className="job-meta">
            {modelTitle(job.modelId)} · {job.outputWidth}x{job.outputHeight} · {job.source.frames} frames
            {job.source.audio !== 'none' ? ` · sound ${job.source.audio === 'copy' ? 'kept' : 'converted to AAC'}` : ' · no sound'}
          </span>
        </div>
        <span className={`status job-state-${job.state}`} data-testid="job-state" aria-live="polite">
          {job.state}
        </span>
      </div>
      <ProgressBar
        fraction={job.framesTotal > 0 ? job.framesDone / job.framesTotal : 0}
        label={progressLabel(job)}
        testId="progress"
      />
      {job.state === 'done' && job.resultUrl ? (
        <>
          <div className="panels">
            <ResultVideo label="Original" src={withToken(job.inputUrl, token)} testId="original-video" />
            <ResultVideo label="Translated" src={withToken(job.resultUrl, token)} testId="result-video" />
          </div>
          <div className="buttons">
            <a className="button button-primary" data-testid="download" href={withToken(`${job.resultUrl}?download=1`, token)} download>
              Download MP4{job.resultBytes ? ` (${formatBytes(job.resultBytes)})` : ''}
            </a>
          </div>
        </>
      ) : null}
      {ACTIVE_STATES.has(job.state) ? (
        <div className="buttons">
          <button type="button" className="button button-secondary" data-testid="cancel-job" onClick={() => onCancel(job.id)}>
            Cancel
          </button>
        </div>
      ) : null}
    </section>
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

'use client';

import type { ModelSummary } from '../lib/contract';
import { titleCase } from './Controls';
import { DropZone } from './DropZone';
import { ModelPicker } from './ModelPicker';
import { ProgressBar } from './ProgressBar';
import { SmoothingSlider } from './SmoothingSlider';

export type UploadMode = 'video' | 'image';

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

interface UploadFormProps {
  mode: UploadMode;
  file: File | null;
  models: ModelSummary[] | null;
  modelsFailed: boolean;
  modelId: string;
  smoothing: number;
  /** `<width>x`, or empty for the source's size. */
  size: string;
  /** The upload's progress, 0 to 1; null while no upload is under way. */
  uploading: number | null;
  imageBusy: boolean;
  /** An upload or an image translation is under way, so the form is locked. */
  busy: boolean;
  canSubmit: boolean;
  onModeChange(mode: UploadMode): void;
  onFile(file: File): void;
  onModelChange(id: string): void;
  onSmoothingChange(value: number): void;
  onSizeChange(size: string): void;
  onSubmit(): void;
  onCancelUpload(): void;
}

/** The upload page's form: video or image, the file, the model and, for a video, smoothing and size. */
export function UploadForm(props: UploadFormProps) {
  const { mode, file, models, modelsFailed, modelId, smoothing, size, uploading, imageBusy, busy, canSubmit } = props;
  const { onModeChange, onFile, onModelChange, onSmoothingChange, onSizeChange, onSubmit, onCancelUpload } = props;
  const selected = models?.find((m) => m.id === modelId);

  return (
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
            onClick={() => onModeChange(m)}
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
        onFile={onFile}
      />

      <div className="upload-options">
        <ModelPicker
          models={models}
          failed={modelsFailed}
          modelId={modelId}
          disabled={busy}
          onChange={onModelChange}
          hint={selected ? (selected.summary ?? `${titleCase(selected.from)} → ${titleCase(selected.to)}`) : ''}
        />

        {mode === 'video' ? (
          <>
            <div className="control">
              <SmoothingSlider id="upload-smoothing" testId="upload-smoothing" value={smoothing} disabled={busy} onChange={onSmoothingChange} />
            </div>
            <div className="control">
              <label htmlFor="upload-size">Output size</label>
              <select id="upload-size" data-testid="upload-size" value={size} disabled={busy} onChange={(e) => onSizeChange(e.target.value)}>
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
            onClick={() => onSubmit()}
          >
            {uploading !== null ? 'Uploading…' : imageBusy ? 'Translating…' : 'Translate'}
          </button>
          {uploading !== null ? (
            <button type="button" className="button button-ghost" onClick={onCancelUpload}>
              Cancel upload
            </button>
          ) : null}
        </div>
      </div>

      {uploading !== null ? (
        <ProgressBar fraction={uploading} label={`Uploading ${Math.floor(uploading * 100)} %`} testId="upload-progress" />
      ) : null}
    </section>
  );
}

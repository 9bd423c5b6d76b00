import type { ModelSummary } from '../lib/contract';
import { SmoothingSlider } from './SmoothingSlider';
import { ModelOptions } from './ModelOptions';

export const RESOLUTIONS_PX = [128, 192, 256, 320, 384, 480] as const;

export type Phase = 'idle' | 'connecting' | 'live' | 'error';

interface ControlsProps {
  phase: Phase;
  models: ModelSummary[] | null;
  modelsFailed: boolean;
  modelId: string;
  modelBusy: boolean;
  smoothing: number;
  shortSidePx: number;
  canStart: boolean;
  onModelChange(id: string): void;
  onSmoothingChange(value: number): void;
  onShortSideChange(px: number): void;
  onStart(): void;
  onStop(): void;
}

export function Controls(props: ControlsProps) {
  const { phase, models, modelId, modelBusy, smoothing, shortSidePx, canStart } = props;
  const model = models?.find((m) => m.id === modelId);
  const startLabel = phase === 'error' ? 'Start again' : 'Start';

  return (
    <section className="controls" aria-label="Controls">
      <div className="control control-model">
        <label htmlFor="model-select">Model</label>
        <select
          id="model-select"
          data-testid="model-select"
          value={modelId}
          disabled={!models || models.length === 0 || phase === 'connecting' || modelBusy}
          onChange={(e) => props.onModelChange(e.target.value)}
        >
          <ModelOptions models={models} failed={props.modelsFailed} />
        </select>
        <span className="control-hint">{model ? describeModel(model) : '\u00a0'}</span>
      </div>

      <div className="control control-smoothing">
        <SmoothingSlider id="smoothing" testId="smoothing" value={smoothing} onChange={props.onSmoothingChange} />
      </div>

      <div className="control control-resolution">
        <label htmlFor="resolution">Model resolution</label>
        <select
          id="resolution"
          data-testid="resolution"
          value={String(shortSidePx)}
          onChange={(e) => props.onShortSideChange(Number(e.target.value))}
        >
          {RESOLUTIONS_PX.map((px) => (
            <option key={px} value={String(px)}>
              {px}p
            </option>
          ))}
        </select>
        <span className="control-hint">Short side the model sees</span>
      </div>

      <div className="control control-actions">
        <span className={`status status-${phase}`} data-testid="status" aria-live="polite">
          {phase}
        </span>
        <div className="buttons">
          <button
            type="button"
            className="button button-primary"
            data-testid="start"
            onClick={props.onStart}
            disabled={!canStart}
          >
            {startLabel}
          </button>
          <button
            type="button"
            className="button button-secondary"
            data-testid="stop"
            onClick={props.onStop}
            disabled={phase === 'idle'}
          >
            Stop
          </button>
        </div>
      </div>
    </section>
  );
}

function describeModel(m: ModelSummary): string {
  const parts = [m.summary ?? `${titleCase(m.from)} → ${titleCase(m.to)}`, m.architecture];
  if (m.params > 0) parts.push(`${formatCount(m.params)} params`);
  const judged = imagenetVerdict(m) ?? paintingVerdict(m);
  if (judged) parts.push(judged);
  if (m.kind === 'fixture') parts.push('test fixture');
  if (m.kind === 'random') parts.push('untrained');
  return parts.filter(Boolean).join(' · ');
}

/**
 * What the ImageNet judge (training/judge.py) said about the model's test translations, when its
 * manifest has that: the share of translated test images it calls zebras (for zebra → horse, the
 * share it still calls zebras, where lower is better).
 */
function imagenetVerdict(m: ModelSummary): string | null {
  const judged = m.metrics?.['imagenet'];
  if (!judged || typeof judged !== 'object') return null;
  const share = (judged as { top1Zebra?: unknown }).top1Zebra;
  if (typeof share !== 'number') return null;
  const pct = `${Math.round(share * 100)}%`;
  return m.to === 'zebra' ? `ImageNet calls ${pct} of test results zebras` : `ImageNet still calls ${pct} zebras`;
}

/** For painters: the share of test results a painting-vs-photo classifier calls paintings (or photos). */
function paintingVerdict(m: ModelSummary): string | null {
  const judged = m.metrics?.['paintingJudge'];
  if (!judged || typeof judged !== 'object') return null;
  const { share, target } = judged as { share?: unknown; target?: unknown };
  if (typeof share !== 'number' || (target !== 'painting' && target !== 'photo')) return null;
  return `a classifier calls ${Math.round(share * 100)}% of test results ${target}s`;
}

export function titleCase(s: string): string {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}k`;
  return String(n);
}

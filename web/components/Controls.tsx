import type { ModelSummary } from '../lib/contract';
import { SmoothingSlider } from './SmoothingSlider';
import { ModelPicker } from './ModelPicker';

export const RESOLUTIONS_PX = [128, 160, 192, 224, 256, 320, 384, 480] as const;

/** The model resolution picked: a short side in pixels, or `auto`, which the server chooses per model. */
export type ShortSideChoice = number | 'auto';

export type Phase = 'idle' | 'connecting' | 'live' | 'error';

interface ControlsProps {
  phase: Phase;
  models: ModelSummary[] | null;
  modelsFailed: boolean;
  modelId: string;
  modelBusy: boolean;
  smoothing: number;
  shortSide: ShortSideChoice;
  /** The short side the model sees now (from the session's stats); null when not live. */
  processingPx: number | null;
  canStart: boolean;
  onModelChange(id: string): void;
  onSmoothingChange(value: number): void;
  onShortSideChange(choice: ShortSideChoice): void;
  onStart(): void;
  onStop(): void;
}

export function Controls(props: ControlsProps) {
  const { phase, models, modelId, modelBusy, smoothing, shortSide, canStart } = props;
  const model = models?.find((m) => m.id === modelId);
  const startLabel = phase === 'error' ? 'Start again' : 'Start';

  return (
    <section className="controls" aria-label="Controls">
      <ModelPicker
        className="control control-model"
        models={models}
        failed={props.modelsFailed}
        modelId={modelId}
        disabled={phase === 'connecting' || modelBusy}
        onChange={props.onModelChange}
        hint={model ? describeModel(model) : ''}
      />

      <div className="control control-smoothing">
        <SmoothingSlider id="smoothing" testId="smoothing" value={smoothing} onChange={props.onSmoothingChange} />
      </div>

      <div className="control control-resolution">
        <label htmlFor="resolution">Model resolution</label>
        <select
          id="resolution"
          data-testid="resolution"
          value={String(shortSide)}
          onChange={(e) => props.onShortSideChange(e.target.value === 'auto' ? 'auto' : Number(e.target.value))}
        >
          <option value="auto">Auto</option>
          {RESOLUTIONS_PX.map((px) => (
            <option key={px} value={String(px)}>
              {px}p
            </option>
          ))}
        </select>
        <span className="control-hint">{describeResolution(shortSide, props.processingPx)}</span>
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
  if (m.cpuShortSidePx !== undefined) parts.push(`realtime on a CPU at ${m.cpuShortSidePx}p`);
  const judged = imagenetVerdict(m) ?? paintingVerdict(m);
  if (judged) parts.push(judged);
  if (m.kind === 'fixture') parts.push('test fixture');
  if (m.kind === 'random') parts.push('untrained');
  return parts.filter(Boolean).join(' · ');
}

/**
 * Auto is the server's size (PROCESSING_SHORT_SIDE_PX, 256 unless set), lowered on a CPU to what
 * a heavy model keeps realtime at (the model hint names that size); the page learns the size
 * the model really sees from the session's stats, and names it while live.
 */
function describeResolution(choice: ShortSideChoice, processingPx: number | null): string {
  if (choice !== 'auto') return 'Short side the model sees';
  if (processingPx) return `Auto: ${processingPx}p now, lower for heavy models on a CPU`;
  return 'Auto: 256p, lower for heavy models on a CPU';
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

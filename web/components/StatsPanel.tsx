import type { Backend, SessionStats } from '../lib/contract';

interface StatsPanelProps {
  stats: SessionStats | null;
  /** From the start answer, so the badge shows before the first stats push. */
  backend: Backend | null;
  codec: string | null;
}

const DASH = '–';

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? DASH : value.toFixed(digits);
}

function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return DASH;
  return value.toFixed(value < 10 ? 1 : 0);
}

function size(w: number | undefined, h: number | undefined): string {
  return w && h ? `${w}×${h}` : DASH;
}

export function StatsPanel({ stats, backend, codec }: StatsPanelProps) {
  const shownBackend = stats?.backend ?? backend;
  const shownCodec = stats?.codec ?? codec;
  return (
    <section className="stats" data-testid="stats" aria-label="Session statistics">
      <Stat name="fps-in" label="FPS in" value={fixed(stats?.fpsIn, 1)} />
      <Stat name="fps-out" label="FPS out" value={fixed(stats?.fpsOut, 1)} />
      <Stat name="inference-ms" label="Inference" value={ms(stats?.inferenceMs)} unit="ms" />
      <Stat name="latency-ms" label="Server latency" value={ms(stats?.serverLatencyMs)} unit="ms" />
      <div className="stat">
        <span className="stat-label">Backend</span>
        <span className={`badge badge-${shownBackend ?? 'none'}`} data-testid="stat-backend">
          {shownBackend ?? DASH}
        </span>
      </div>
      <Stat name="dropped" label="Dropped" value={stats ? String(stats.droppedFrames) : DASH} />
      <Stat name="input-size" label="Input" value={size(stats?.inputWidth, stats?.inputHeight)} />
      <Stat name="processing-size" label="Processing" value={size(stats?.processingWidth, stats?.processingHeight)} />
      <Stat name="codec" label="Codec" value={shownCodec ?? DASH} />
    </section>
  );
}

function Stat({ name, label, value, unit }: { name: string; label: string; value: string; unit?: string }) {
  return (
    <div className="stat">
      <span className="stat-label">{label}</span>
      <span className="stat-value">
        <span data-testid={`stat-${name}`}>{value}</span>
        {unit && value !== DASH ? <span className="stat-unit">{unit}</span> : null}
      </span>
    </div>
  );
}

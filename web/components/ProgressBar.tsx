interface ProgressBarProps {
  /** 0..1 */
  fraction: number;
  label: string;
  testId: string;
}

export function ProgressBar({ fraction, label, testId }: ProgressBarProps) {
  const percent = Math.max(0, Math.min(100, Math.round(fraction * 1000) / 10));
  return (
    <div className="progress">
      <div
        className="progress-track"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={label}
        data-testid={testId}
      >
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <span className="progress-label">{label}</span>
    </div>
  );
}

'use client';

/** Temporal smoothing strength, 0 (off) to 1, shared by the live and upload pages. */
export function SmoothingSlider(props: { id: string; testId: string; value: number; disabled?: boolean; onChange(value: number): void }) {
  return (
    <>
      <label htmlFor={props.id}>
        Smoothing <output htmlFor={props.id}>{props.value.toFixed(2)}</output>
      </label>
      <input
        id={props.id}
        data-testid={props.testId}
        type="range"
        min={0}
        max={1}
        step={0.05}
        value={props.value}
        disabled={props.disabled}
        onChange={(e) => props.onChange(Number(e.target.value))}
      />
      <span className="control-hint">Less flicker on still scenes</span>
    </>
  );
}

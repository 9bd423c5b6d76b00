import { readFileSync } from 'node:fs';

/**
 * Runs inside the page. For every frame the output <video> presents, it finds the recent input
 * frame that best explains it under a given pixel transform, and records that error. Searching
 * the recent input history makes the check independent of the pipeline's latency.
 */
export interface ProbeResult {
  frames: number;
  /** Per output frame: least mean absolute error (0..255) against `transform(input)`. */
  errors: number[];
  /** The same against the untransformed input, as a control. */
  controlErrors: number[];
  /** performance.now() of each output frame. */
  times: number[];
}

export type PixelTransform = 'invert' | 'swap-rb' | 'identity';

export interface ProbeHandle {
  start(transform: PixelTransform): void;
  read(): ProbeResult;
}

/**
 * Plain browser JavaScript, read as text: tsx would otherwise rewrite a TS function with
 * helpers (`__name`) that do not exist inside the page.
 */
export const PROBE_SOURCE = readFileSync(new URL('./frame-probe.browser.js', import.meta.url), 'utf8');

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The numbers a live session reports: its sliding windows (frames out, model time, server
 * latency), and the assembly of one SessionStats from the stages that count the rest.
 */
import type { SessionStats } from '../contract/index.js';
import { SlidingWindow } from './window.js';

export interface StatsSources {
  sessionId: string;
  modelId: string;
  backend: SessionStats['backend'];
  codec: SessionStats['codec'];
  fpsIn: SlidingWindow;
  droppedFrames: number;
  input: { width: number; height: number };
  processing: { width: number; height: number };
  smoothing: number;
}

export class LiveStats {
  readonly fpsOut = new SlidingWindow();
  readonly inferenceMs = new SlidingWindow();
  readonly latencyMs = new SlidingWindow();

  /** One encoded frame left for the fan-out; `receivedAtMs` is when its source frame arrived. */
  frameOut(receivedAtMs: number, now = Date.now()): void {
    this.fpsOut.add(1, now);
    this.latencyMs.add(now - receivedAtMs, now);
  }

  snapshot(s: StatsSources, now = Date.now()): SessionStats {
    return {
      sessionId: s.sessionId,
      modelId: s.modelId,
      backend: s.backend,
      codec: s.codec,
      fpsIn: s.fpsIn.rate(now),
      fpsOut: this.fpsOut.rate(now),
      inferenceMs: round1(this.inferenceMs.median(now)),
      serverLatencyMs: round1(this.latencyMs.median(now)),
      droppedFrames: s.droppedFrames,
      inputWidth: s.input.width,
      inputHeight: s.input.height,
      processingWidth: s.processing.width,
      processingHeight: s.processing.height,
      smoothing: s.smoothing,
    };
  }
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

/**
 * Samples over a sliding time window: medians for latency and run time, counts for fps.
 * A fixed-size ring keeps it allocation-free per sample.
 */
export class SlidingWindow {
  private readonly times: Float64Array;
  private readonly values: Float64Array;
  private head = 0;
  private size = 0;
  private readonly scratch: Float64Array;

  constructor(
    private readonly windowMs = 1000,
    capacity = 512,
  ) {
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  add(value: number, nowMs: number): void {
    const cap = this.times.length;
    const idx = (this.head + this.size) % cap;
    this.times[idx] = nowMs;
    this.values[idx] = value;
    if (this.size < cap) this.size++;
    else this.head = (this.head + 1) % cap;
  }

  private prune(nowMs: number): void {
    const cap = this.times.length;
    while (this.size > 0 && nowMs - this.times[this.head]! > this.windowMs) {
      this.head = (this.head + 1) % cap;
      this.size--;
    }
  }

  count(nowMs: number): number {
    this.prune(nowMs);
    return this.size;
  }

  /** Events per second over the window. */
  rate(nowMs: number): number {
    return (this.count(nowMs) * 1000) / this.windowMs;
  }

  median(nowMs: number): number {
    this.prune(nowMs);
    if (this.size === 0) return 0;
    const cap = this.times.length;
    for (let i = 0; i < this.size; i++) this.scratch[i] = this.values[(this.head + i) % cap]!;
    const sorted = this.scratch.subarray(0, this.size).sort();
    const mid = this.size >> 1;
    return this.size % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  }
}

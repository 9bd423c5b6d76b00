/** Lets one event through per `minIntervalMs`; the rest are refused (not queued). */
export class RateLimiter {
  private last = Number.NEGATIVE_INFINITY;

  constructor(
    readonly minIntervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  tryAcquire(): boolean {
    const t = this.now();
    if (t - this.last < this.minIntervalMs) return false;
    this.last = t;
    return true;
  }
}

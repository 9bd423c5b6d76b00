/**
 * Counting what clients hold open (sessions, sockets, event streams) per key, usually an IP
 * address, against a cap. A slot is taken with tryAcquire and given back by calling the release
 * it returned, once, whenever the thing it counts ends.
 */
export type Release = () => void;

export class KeyedCounter {
  readonly #counts = new Map<string, number>();

  constructor(readonly max: number) {}

  /** A release function, or null when `key` already holds `max`. */
  tryAcquire(key: string): Release | null {
    const n = this.#counts.get(key) ?? 0;
    if (n >= this.max) return null;
    this.#counts.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#counts.get(key) ?? 1) - 1;
      // Keys with nothing open are forgotten, so the map does not grow with every address seen.
      if (left <= 0) this.#counts.delete(key);
      else this.#counts.set(key, left);
    };
  }

  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  /** Keys holding anything. */
  get size(): number {
    return this.#counts.size;
  }
}

/** The client address of a connection, as the limits key it; IPv4-mapped IPv6 counts as IPv4. */
export function clientKey(remoteAddress: string | undefined): string {
  if (!remoteAddress) return 'unknown';
  return remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
}

/** A rate: `ratePerS` on average, bursts up to `burst`. */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    readonly ratePerS: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#tokens = burst;
    this.#last = now();
  }

  /** Takes one token; false when none is left. */
  take(): boolean {
    const t = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) / 1000) * this.ratePerS);
    this.#last = t;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * At most `maxRunning` holders at once and at most `maxWaiting` waiting for a turn; past that,
 * a caller is refused at once with a BusyError carrying Retry-After, instead of piling up
 * memory and work the server cannot get through.
 */
import { BusyError, ClosedError } from './errors.js';

export interface ConcurrencyGateOptions {
  maxRunning: number;
  maxWaiting: number;
  /** What the refusal says is busy, e.g. "image translation". */
  what: string;
  /** Retry-After on a refusal. */
  retryAfterS: number;
}

export class ConcurrencyGate {
  readonly #opts: ConcurrencyGateOptions;
  #running = 0;
  readonly #waiting: { resolve: () => void; reject: (err: Error) => void }[] = [];
  #closed = false;

  constructor(opts: ConcurrencyGateOptions) {
    this.#opts = opts;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Whether enter() would be refused right now (checked before a request body is read). */
  get full(): boolean {
    return this.#running >= this.#opts.maxRunning && this.#waiting.length >= this.#opts.maxWaiting;
  }

  #refusal(): BusyError {
    const { what, maxRunning, maxWaiting, retryAfterS } = this.#opts;
    return new BusyError(`server busy: ${maxRunning} ${what}(s) running and ${maxWaiting} waiting; try again later`, retryAfterS);
  }

  /** Throws the BusyError enter() would throw, without taking a place. */
  check(): void {
    if (this.#closed) throw new ClosedError('the server is shutting down');
    if (this.full) throw this.#refusal();
  }

  /** Waits for a turn; resolves to the function that gives it back (call it exactly once). */
  async enter(): Promise<() => void> {
    this.check();
    if (this.#running >= this.#opts.maxRunning) {
      await new Promise<void>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    } else {
      this.#running++;
    }
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const next = this.#waiting.shift();
      // The place passes straight to the next waiter, so the count never dips and lets a newcomer jump the queue.
      if (next) next.resolve();
      else this.#running--;
    };
  }

  /** Refuses every waiter and every later caller. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w.reject(new ClosedError('the server is shutting down'));
  }
}

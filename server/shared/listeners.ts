/**
 * A typed set of callbacks. Emitting calls each one in turn; one that throws is reported to
 * `onThrow` and the others still run, so a faulty subscriber cannot break the emitter's chain.
 */
export type Unsubscribe = () => void;

export class Listeners<T> {
  readonly #callbacks = new Set<(value: T) => void>();

  constructor(private readonly onThrow: (err: unknown) => void) {}

  /** Returns the function that removes `cb` again. */
  add(cb: (value: T) => void): Unsubscribe {
    this.#callbacks.add(cb);
    return () => this.#callbacks.delete(cb);
  }

  emit(value: T): void {
    // A copy: a callback may unsubscribe itself (or others) while we iterate.
    for (const cb of [...this.#callbacks]) {
      try {
        cb(value);
      } catch (err) {
        this.onThrow(err);
      }
    }
  }

  get size(): number {
    return this.#callbacks.size;
  }

  clear(): void {
    this.#callbacks.clear();
  }
}

/**
 * Which live session (or job) a piece of asynchronous work belongs to. Work started inside
 * `run(owner, fn)` keeps the owner through promises, timers and the sockets it opens, so a
 * process-level error handler can close the one session that failed instead of the process.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Owner {
  readonly kind: 'session' | 'viewer' | 'job';
  readonly id: string;
  /** Closes what failed; called by the crash guard with the error it caught. Must not throw. */
  fail(err: unknown): void;
}

export class OwnerScope {
  readonly #storage = new AsyncLocalStorage<Owner>();

  run<T>(owner: Owner, fn: () => T): T {
    return this.#storage.run(owner, fn);
  }

  /** The owner of the work running now, if any. */
  current(): Owner | undefined {
    return this.#storage.getStore();
  }
}

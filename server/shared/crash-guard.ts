/**
 * The process-level net under every async chain: an error nobody caught is logged and, when it
 * can be traced to a live session (or job) through the owner scope, closes that one alone; the
 * server keeps serving. Only a burst of untraceable exceptions, a sign that shared state is
 * broken, ends the process, and then through the caller's clean shutdown.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { OwnerScope } from './owners.js';

export interface CrashGuardOptions {
  logger: Pick<Logger, 'error' | 'fatal'>;
  owners: OwnerScope;
  /** Called once, when the process should stop: shut down cleanly, then exit non-zero. */
  onFatal(reason: string): void;
  /** Untraceable uncaught exceptions tolerated per minute. Default 5. */
  maxUntracedPerMinute?: number;
  now?: () => number;
}

/** Installs the handlers on `proc` (the process); returns a function that removes them. */
export function installCrashGuard(proc: EventEmitter, opts: CrashGuardOptions): () => void {
  const limit = opts.maxUntracedPerMinute ?? 5;
  const now = opts.now ?? Date.now;
  const untraced: number[] = [];
  let fatal = false;

  const handle = (kind: 'uncaughtException' | 'unhandledRejection', err: unknown) => {
    const owner = opts.owners.current();
    if (owner) {
      opts.logger.error({ err, kind, owner: { kind: owner.kind, id: owner.id } }, `${kind} in ${owner.kind} ${owner.id}: closing it`);
      try {
        owner.fail(err);
      } catch (failErr) {
        opts.logger.error({ err: failErr, owner: { kind: owner.kind, id: owner.id } }, 'closing the failed owner threw');
      }
      return;
    }
    opts.logger.error({ err, kind }, `${kind} outside any session or job; still serving`);
    // A rejected promise nobody awaited leaves no state half-changed; a thrown exception may have.
    if (kind !== 'uncaughtException' || fatal) return;
    const t = now();
    untraced.push(t);
    while (untraced.length > 0 && untraced[0]! <= t - 60_000) untraced.shift();
    if (untraced.length > limit) {
      fatal = true;
      opts.logger.fatal({ count: untraced.length }, 'repeated uncaught exceptions outside any session: shutting down');
      opts.onFatal(`${untraced.length} uncaught exceptions in a minute`);
    }
  };
  const onException = (err: unknown) => handle('uncaughtException', err);
  const onRejection = (reason: unknown) => handle('unhandledRejection', reason);
  proc.on('uncaughtException', onException);
  proc.on('unhandledRejection', onRejection);
  return () => {
    proc.off('uncaughtException', onException);
    proc.off('unhandledRejection', onRejection);
  };
}

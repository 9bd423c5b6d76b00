/**
 * Proof that a file was never opened: the file is a named pipe, and opening a pipe's write end
 * without blocking succeeds only while someone has its read end open. FFmpeg opening it to read
 * blocks until a writer comes, so a watcher polling this way cannot miss it; once seen, the
 * watcher's own open hands FFmpeg an empty pipe and it carries on.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';

export function makeFifo(path: string): string {
  execFileSync('mkfifo', [path]);
  return path;
}

export interface FifoWatch {
  /** Whether anything opened the pipe for reading while watched. */
  readonly opened: boolean;
  stop(): void;
}

export function watchFifo(path: string, everyMs = 2): FifoWatch {
  let opened = false;
  const timer = setInterval(() => {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
      opened = true;
    } catch (err) {
      // ENXIO: no reader, which is what a safe server leaves it at.
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
    }
  }, everyMs);
  return {
    get opened() {
      return opened;
    },
    stop: () => clearInterval(timer),
  };
}

/** The translate command's progress output on stderr. */
import type { CliIo } from './context.js';

/** A one-line progress bar on a terminal; otherwise a plain line every 10 % (logs, CI). */
export function progressReporter(io: CliIo, quiet: boolean) {
  const tty = io.stderr.isTTY === true;
  const t0 = Date.now();
  let lastDecile = -1;
  let drawn = false;
  return {
    update(done: number, total: number) {
      if (quiet) return;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const elapsedS = (Date.now() - t0) / 1000;
      const fps = elapsedS > 0 ? done / elapsedS : 0;
      const eta = fps > 0 ? Math.max(0, (total - done) / fps) : null;
      const tail = `${done}/${total} frames  ${fps.toFixed(1)} fps  ETA ${eta === null ? '--' : `${Math.ceil(eta)} s`}`;
      if (tty) {
        const width = Math.max(10, Math.min(40, (io.stderr.columns ?? 80) - tail.length - 10));
        const filled = Math.round(frac * width);
        io.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${tail}\x1b[K`);
        drawn = true;
      } else {
        const decile = Math.floor(frac * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          io.stderr.write(`progress ${decile * 10}% (${tail})\n`);
        }
      }
    },
    end() {
      if (drawn) io.stderr.write('\n');
      drawn = false;
    },
  };
}

import { pino, type Logger } from 'pino';

/** What inference needs from a logger; any pino logger (or child) fits. */
export type StageLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export function silentLogger(): StageLogger {
  return pino({ level: 'silent' });
}

/** ORT's messages run to several lines (WebGPU adapter dumps); logs want one short line. */
export function shortMessage(err: unknown, max = 300): string {
  const text = err instanceof Error ? err.message : String(err);
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}...` : oneLine;
}

import { FFmpegError, Log } from 'node-av';
import { AVERROR_EAGAIN, AVERROR_EOF, AV_LOG_ERROR, AV_LOG_INFO, AV_LOG_QUIET, AV_LOG_WARNING, AV_NOPTS_VALUE } from 'node-av/constants';
import { CodecError } from '../shared/errors.js';

export { AVERROR_EAGAIN, AVERROR_EOF, AV_NOPTS_VALUE };

/** Turns a negative FFmpeg return code into a CodecError with FFmpeg's own text. */
export function codecFailure(what: string, ret: number): CodecError {
  let text: string;
  try {
    text = FFmpegError.strerror(ret);
  } catch {
    text = 'unknown error';
  }
  return new CodecError(`${what}: ${text} (${ret})`);
}

export function check(what: string, ret: number): number {
  if (ret < 0) throw codecFailure(what, ret);
  return ret;
}

/**
 * Serialises async native calls on one codec context. node-av runs the async
 * send/receive calls on libuv worker threads, and an FFmpeg context is not
 * thread-safe, so two overlapping decode() calls (or a close() during one) must
 * queue instead of racing.
 */
export function createSerialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

export type FfmpegLogLevel = 'quiet' | 'error' | 'warning' | 'info';

/**
 * FFmpeg's log level is process-wide, so only the process owner (server start-up,
 * tests) should call this; the codec wrappers never change it themselves.
 */
export function setFfmpegLogLevel(level: FfmpegLogLevel): void {
  const map = { quiet: AV_LOG_QUIET, error: AV_LOG_ERROR, warning: AV_LOG_WARNING, info: AV_LOG_INFO } as const;
  Log.setLevel(map[level]);
}

export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

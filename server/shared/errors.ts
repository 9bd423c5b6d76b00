/**
 * Every error the server raises or sends to a client is one of these classes.
 * `code` is stable and machine-readable; it travels to clients in `error` events.
 */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'CONFIG_INVALID'
  | 'SDP_MALFORMED'
  | 'NO_VIDEO'
  | 'UNSUPPORTED_CODEC'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_ID_INVALID'
  | 'MODEL_LOAD_FAILED'
  | 'MANIFEST_INVALID'
  | 'SERVER_BUSY'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_CLOSED'
  | 'CODEC_ERROR'
  | 'INFERENCE_ERROR'
  | 'PROVIDER_UNAVAILABLE'
  | 'FRAME_TOO_LARGE'
  | 'WEB_BUILD_MISSING'
  | 'MEDIA_INVALID'
  | 'MEDIA_UNSUPPORTED'
  | 'UPLOAD_TOO_LARGE'
  | 'JOB_NOT_FOUND'
  | 'JOB_STATE'
  | 'JOB_CANCELLED'
  | 'JOB_ABANDONED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'STREAM_NOT_FOUND'
  | 'VIEWER_LIMIT'
  | 'PAYLOAD_TOO_LARGE'
  | 'VIDEO_TOO_LONG'
  | 'STORE_FAILED'
  | 'SDP_LIMIT'
  | 'RATE_LIMITED'
  | 'INTERNAL';

export abstract class CycleStreamError extends Error {
  abstract readonly code: ErrorCode;
  /** HTTP status when the error crosses an HTTP boundary. */
  readonly status: number = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export class BadRequestError extends CycleStreamError {
  readonly code = 'BAD_REQUEST' as const;
  override readonly status = 400;
}
export class ConfigError extends CycleStreamError {
  readonly code = 'CONFIG_INVALID' as const;
  constructor(readonly key: string, message: string) {
    super(`config ${key}: ${message}`);
  }
}
export class SdpError extends CycleStreamError {
  readonly code = 'SDP_MALFORMED' as const;
  override readonly status = 400;
}
export class NoVideoError extends CycleStreamError {
  readonly code = 'NO_VIDEO' as const;
  override readonly status = 400;
}
export class UnsupportedCodecError extends CycleStreamError {
  readonly code = 'UNSUPPORTED_CODEC' as const;
  override readonly status = 400;
}
export class ModelNotFoundError extends CycleStreamError {
  readonly code = 'MODEL_NOT_FOUND' as const;
  override readonly status = 404;
}
export class ModelIdError extends CycleStreamError {
  readonly code = 'MODEL_ID_INVALID' as const;
  override readonly status = 400;
}
export class ModelLoadError extends CycleStreamError {
  readonly code = 'MODEL_LOAD_FAILED' as const;
}
export class ManifestError extends CycleStreamError {
  readonly code = 'MANIFEST_INVALID' as const;
}
export class BusyError extends CycleStreamError {
  readonly code = 'SERVER_BUSY' as const;
  override readonly status = 503;
  constructor(
    message: string,
    /** Sent as Retry-After: a global capacity limit frees up as sessions end. */
    readonly retryAfterS = 10,
  ) {
    super(message);
  }
}
export class SessionNotFoundError extends CycleStreamError {
  readonly code = 'SESSION_NOT_FOUND' as const;
  override readonly status = 404;
}
export class ClosedError extends CycleStreamError {
  readonly code = 'SESSION_CLOSED' as const;
  override readonly status = 410;
}
export class CodecError extends CycleStreamError {
  readonly code = 'CODEC_ERROR' as const;
}
export class InferenceError extends CycleStreamError {
  readonly code = 'INFERENCE_ERROR' as const;
}
export class ProviderUnavailableError extends CycleStreamError {
  readonly code = 'PROVIDER_UNAVAILABLE' as const;
}
export class FrameTooLargeError extends CycleStreamError {
  readonly code = 'FRAME_TOO_LARGE' as const;
  override readonly status = 413;
}

/** Wraps anything thrown into a CycleStreamError so callers never see strings or unknowns. */
export function asCycleStreamError(err: unknown, Fallback: new (m: string, o?: { cause?: unknown }) => CycleStreamError): CycleStreamError {
  if (err instanceof CycleStreamError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new Fallback(message, { cause: err });
}

export class WebBuildMissingError extends CycleStreamError {
  readonly code = 'WEB_BUILD_MISSING' as const;
}

/** An upload or input file that is not readable media: empty, truncated, corrupt, not a video. */
export class InvalidMediaError extends CycleStreamError {
  readonly code = 'MEDIA_INVALID' as const;
  override readonly status = 400;
}
/** A request body of a type the endpoint does not take (e.g. a GIF sent to the image route). */
export class UnsupportedMediaError extends CycleStreamError {
  readonly code = 'MEDIA_UNSUPPORTED' as const;
  override readonly status = 415;
}
export class UploadTooLargeError extends CycleStreamError {
  readonly code = 'UPLOAD_TOO_LARGE' as const;
  override readonly status = 413;
}
export class JobNotFoundError extends CycleStreamError {
  readonly code = 'JOB_NOT_FOUND' as const;
  override readonly status = 404;
}
/** The job exists but is in the wrong state for the request (e.g. downloading a result before it is done). */
export class JobStateError extends CycleStreamError {
  readonly code = 'JOB_STATE' as const;
  override readonly status = 409;
}
/** A job run stopped because someone cancelled it (or the server is shutting down). */
export class JobCancelledError extends CycleStreamError {
  readonly code = 'JOB_CANCELLED' as const;
  override readonly status = 409;
}
export class NotFoundError extends CycleStreamError {
  readonly code = 'NOT_FOUND' as const;
  override readonly status = 404;
}
export class MethodNotAllowedError extends CycleStreamError {
  readonly code = 'METHOD_NOT_ALLOWED' as const;
  override readonly status = 405;
}
/** A job that was interrupted (server stopped) on every one of its allowed starts. */
export class JobAbandonedError extends CycleStreamError {
  readonly code = 'JOB_ABANDONED' as const;
}

/** A request without the bearer token the endpoint needs (WHIP ingest, viewer or operator tokens). */
export class UnauthorizedError extends CycleStreamError {
  readonly code = 'UNAUTHORIZED' as const;
  override readonly status = 401;
}
/** A bearer token that is not one of the configured ones (or an endpoint that is switched off). */
export class ForbiddenError extends CycleStreamError {
  readonly code = 'FORBIDDEN' as const;
  override readonly status = 403;
}
/** No live stream with that id: never existed, or it ended. */
export class StreamNotFoundError extends CycleStreamError {
  readonly code = 'STREAM_NOT_FOUND' as const;
  override readonly status = 404;
}
/** The stream already has its configured number of viewers. */
export class ViewerLimitError extends CycleStreamError {
  readonly code = 'VIEWER_LIMIT' as const;
  override readonly status = 503;
  constructor(message: string, readonly retryAfterS: number) {
    super(message);
  }
}
/** A request body over the endpoint's limit. */
export class PayloadTooLargeError extends CycleStreamError {
  readonly code = 'PAYLOAD_TOO_LARGE' as const;
  override readonly status = 413;
}

/** An SDP offer or ICE fragment over one of the SDP_MAX_* / ICE_MAX_* caps; refused before any parsing. */
export class SdpLimitError extends CycleStreamError {
  readonly code = 'SDP_LIMIT' as const;
  override readonly status = 413;
}
/** One client (an IP address, a socket) is over its share: sessions, connections, a start already pending. */
export class RateLimitError extends CycleStreamError {
  readonly code = 'RATE_LIMITED' as const;
  override readonly status = 429;
  constructor(message: string, readonly retryAfterS: number) {
    super(message);
  }
}
/** A video longer, in seconds or in frames, than the server takes (checked from the container header). */
export class VideoTooLongError extends CycleStreamError {
  readonly code = 'VIDEO_TOO_LONG' as const;
  override readonly status = 413;
}
/** The job store (SQLite) failed: disk full, database locked. The job fails; the process carries on. */
export class StoreError extends CycleStreamError {
  readonly code = 'STORE_FAILED' as const;
  override readonly status = 503;
}

/** What a client is told about an error, over HTTP and socket.io alike. */
export interface PublicError {
  status: number;
  code: ErrorCode;
  message: string;
  /** Seconds to wait before retrying, for limits that free up (429, 503). */
  retryAfterS?: number;
  /** Whether the error was unexpected (a bug or an internal failure) and should be logged in full. */
  internal: boolean;
}

/**
 * Absolute server paths (POSIX with two or more segments, Windows drive paths, file: URLs), but
 * not our own URL paths, which clients send and may see again. Each alternative consumes a
 * separator per repetition, so matching is linear in the message length.
 */
const SERVER_PATH =
  /file:\/\/[^\s"'<>]*|(?<![\w.:/-])[A-Za-z]:\\[^\s"'(),;]*|(?<![\w.:/-])\/(?!(?:api|whip|whep|embed|socket\.io)\/)[\w.@+-]+(?:\/[\w.@+-]*)+/g;

/** Replaces server file paths in a message (ORT and FFmpeg errors carry them). */
export function redactServerPaths(message: string): string {
  return message.replace(SERVER_PATH, '<server path>');
}

/**
 * The one policy for errors that leave the server: a CycleStreamError keeps its code and status
 * with server paths cut from its message; anything else is an internal error whose message (a
 * stack, a path, a library's wording) never leaves the log.
 */
export function publicError(err: unknown): PublicError {
  if (err instanceof CycleStreamError) {
    const retryAfterS = (err as { retryAfterS?: unknown }).retryAfterS;
    return {
      status: err.status,
      code: err.code,
      message: redactServerPaths(err.message),
      ...(typeof retryAfterS === 'number' ? { retryAfterS } : {}),
      internal: err.status >= 500,
    };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal server error', internal: true };
}

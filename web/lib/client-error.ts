import type { ServerErrorCode } from './contract';

/** Failures that happen in the browser rather than on the server. */
export type LocalErrorCode =
  | 'CAMERA_DENIED'
  | 'NO_CAMERA'
  | 'CAMERA_IN_USE'
  | 'CAMERA_FAILED'
  | 'CAMERA_ENDED'
  | 'INSECURE_CONTEXT'
  | 'UNSUPPORTED_BROWSER'
  | 'SERVER_UNREACHABLE'
  | 'TIMEOUT'
  | 'CONNECTION_LOST'
  | 'ICE_FAILED'
  | 'UNKNOWN';

export type ClientErrorCode = ServerErrorCode | LocalErrorCode;

/** One error type for everything the page shows; `code` picks the wording and the recovery action. */
export class ClientError extends Error {
  readonly code: ClientErrorCode;
  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClientError';
    this.code = code;
  }
}

export function toClientError(err: unknown): ClientError {
  if (err instanceof ClientError) return err;
  if (err instanceof Error) return new ClientError('UNKNOWN', err.message, { cause: err });
  return new ClientError('UNKNOWN', String(err));
}

/** Maps getUserMedia's DOMException names to something a person can act on. */
export function cameraError(err: unknown): ClientError {
  const name = err instanceof Error ? err.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return new ClientError('CAMERA_DENIED', 'Camera access was blocked.', { cause: err });
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new ClientError('NO_CAMERA', 'No camera was found.', { cause: err });
    case 'NotReadableError':
    case 'AbortError':
      return new ClientError('CAMERA_IN_USE', 'The camera could not be started.', { cause: err });
    default:
      return new ClientError('CAMERA_FAILED', err instanceof Error ? err.message : 'The camera failed.', { cause: err });
  }
}

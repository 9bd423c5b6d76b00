/**
 * The server's socket.io and HTTP contract, re-exported for the client. Type-only, so
 * nothing from server/ (zod, error classes) ends up in the browser bundle.
 */
export type {
  Ack,
  Backend,
  ClientToServerEvents,
  CloseReason,
  HealthResponse,
  IceCandidate,
  JobCreated,
  JobInfo,
  JobProgress,
  JobSource,
  JobState,
  ModelSummary,
  ServerToClientEvents,
  SessionInfo,
  SessionStats,
  SetOptionsRequest,
  StartSessionRequest,
  StreamStateEvent,
  StreamSummary,
  WireError,
} from '../../server/signaling/events';

import type { WireError } from '../../server/signaling/events';

export type ServerErrorCode = WireError['code'];

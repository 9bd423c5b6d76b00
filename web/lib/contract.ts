/**
 * The server's socket.io and HTTP contract (server/contract/), re-exported for the client.
 * Type-only, so nothing from server/ (zod, error classes) ends up in the browser bundle.
 */
export type {
  Ack,
  Backend,
  ClientToServerEvents,
  CloseReason,
  HealthResponse,
  IceCandidate,
  IceServer,
  JobCreated,
  JobInfo,
  JobProgress,
  JobSource,
  JobState,
  ModelGroup,
  ModelSummary,
  Provider,
  ServerToClientEvents,
  SessionInfo,
  SessionOptions,
  SessionStats,
  SetOptionsRequest,
  StartSessionRequest,
  StreamStateEvent,
  StreamSummary,
  VideoCodecName,
  WireError,
} from '../../server/contract';

import type { WireError } from '../../server/contract';

export type ServerErrorCode = WireError['code'];

export { attachSignaling } from './handler.js';
export type { ClientInfo, LiveSessionPort, SessionEvents, SessionFactory, SignalingServer, StartSession } from './handler.js';
export { gateConnections, type ConnectionGateOptions } from './connection-gate.js';
export { attachJobRooms, jobRoom, type JobRooms, type JobWatchPort } from './job-rooms.js';

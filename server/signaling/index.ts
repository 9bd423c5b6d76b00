export * from './events.js';
export { attachSignaling } from './handler.js';
export type { ClientInfo, LiveSessionPort, SessionEvents, SessionFactory, SignalingServer, StartSession } from './handler.js';
export { gateConnections, type ConnectionGateOptions } from './connection-gate.js';

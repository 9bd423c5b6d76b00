export * from './events.js';
export { attachSignaling } from './handler.js';
export type { LiveSessionPort, SessionEvents, SessionFactory, SignalingServer, StartSession } from './handler.js';

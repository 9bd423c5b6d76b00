export * from './events.js';
export { attachSignaling } from './handler.js';
export type { LiveSessionPort, SessionEvents, SessionFactory, SignalingServer, StartSession } from './handler.js';
export { attachJobRooms, jobRoom, type JobRooms, type JobWatchPort } from './job-rooms.js';

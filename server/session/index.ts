export { SessionManager, type ManagerConfig } from './manager.js';
export { LiveSession, type ResourceCounters } from './live-session.js';
export { SlidingWindow } from './window.js';
export {
  LatestFrameScheduler,
  type LatestFrameSchedulerOptions,
  type LatestFrameSchedulerStats,
  type ScheduledResult,
} from './scheduler.js';

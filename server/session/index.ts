export { SessionManager, type ManagerConfig } from './manager.js';
export { LiveSession, type ResourceCounters } from './live-session.js';
export { FFMPEG_CODECS, type LiveCodecs, type LiveStage } from './decode-stage.js';
export { FrameSizeGate, announcedSize, fitsInputLimits, type InputSizeLimits } from './frame-size.js';
export { SlidingWindow } from './window.js';
export {
  LatestFrameScheduler,
  type LatestFrameSchedulerOptions,
  type LatestFrameSchedulerStats,
  type ScheduledResult,
} from './scheduler.js';

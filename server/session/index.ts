export { SessionManager, type ManagerConfig } from './manager.js';
export { LiveSession, type ResourceCounters } from './live-session.js';
export { FFMPEG_CODECS, fitWithin, type LiveCodecs, type LiveStage } from './decode-stage.js';
export { FrameSizeGate, announcedSize, fitsInputLimits, type InputSizeLimits } from './frame-size.js';
export { SlidingWindow } from './window.js';
export { FrameTranslator, type FrameTranslatorOptions, type TranslateJob } from './translator.js';

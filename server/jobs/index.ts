export { JobManager } from './manager.js';
export type { JobManagerOptions, JobRequest, JobsConfig, SubmitRequest } from './options.js';
export { JobStore, type JobRow } from './store.js';
export type { JobCredentials } from './access.js';
export { probeVideo, type ProbeLimits, type VideoProbe } from './probe.js';
export {
  outputBitrateKbps,
  resolveOutputSize,
  translateVideo,
  type TranslateVideoOptions,
  type VideoProgress,
  type VideoResult,
} from './translate-video.js';
export { IMAGE_CONTENT_TYPES, translateImage, type ImageFormat, type ImageResult, type TranslateImageOptions } from './translate-image.js';
export { GeneratorPool, type GeneratorPoolOptions } from './pool.js';

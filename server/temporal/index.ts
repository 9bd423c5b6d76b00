export {
  createTemporalSmoother,
  type TemporalSmoother,
  type TemporalSmootherOptions,
  type TemporalSmootherStats,
} from './smoother.js';

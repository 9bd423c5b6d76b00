export * from './errors.js';
export * from './image.js';
export * from './rgb-pool.js';
export { installPolyfills } from './polyfills.js';

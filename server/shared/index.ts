export * from './errors.js';
export * from './image.js';
export { installPolyfills } from './polyfills.js';

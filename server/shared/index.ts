export * from './errors.js';
export * from './image.js';
export * from './rgb-pool.js';
export { installPolyfills } from './polyfills.js';
export { hashToken, newToken, sameHash, tokenIsOneOf } from './tokens.js';
export { ConcurrencyGate, type ConcurrencyGateOptions } from './gate.js';

export * from './errors.js';
export * from './image.js';
export { installPolyfills } from './polyfills.js';
export { KeyedCounter, TokenBucket, clientKey, type Release } from './limits.js';
export { OwnerScope, type Owner } from './owners.js';
export { isAllowedOrigin, isOwnOrigin } from './origins.js';
export { installCrashGuard, type CrashGuardOptions } from './crash-guard.js';

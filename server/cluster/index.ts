export { attachRedisAdapter, type ClusterSignaling } from './signaling.js';

export { attachRedisAdapter, type ClusterSignaling } from './signaling.js';
export { createNodeMetrics, type NodeMetrics, type MetricsSources } from './metrics.js';
export { StreamRegistry, type RemoteStream, type StreamRegistryOptions } from './stream-registry.js';

export { handleApi, type ApiDeps } from './api.js';
export { sendJson, sendError } from './respond.js';
export { createWebHandler, type WebHandler } from './web.js';
export { handleStreamRoutes } from './stream-routes.js';
export { summarize, type StreamHost, type StreamRoutesDeps } from './stream-host.js';
export { frameAncestors } from './access.js';
export { SseLimits } from './stream-events.js';
export { handleMetrics, type MetricsRouteDeps } from './metrics-route.js';
export { withJobUrls } from './job-urls.js';

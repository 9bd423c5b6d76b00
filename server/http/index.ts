export { handleApi, type ApiDeps } from './api.js';
export { sendJson, sendError } from './respond.js';
export { createWebHandler, type WebHandler } from './web.js';

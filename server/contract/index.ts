/**
 * The wire contract: socket.io events, HTTP bodies, job and stream types, and the shared media
 * vocabulary (codecs, providers, ICE servers). web/ re-exports it by `import type` (web/lib/contract.ts).
 */
export * from './media.js';
export * from './socket.js';
export * from './http.js';

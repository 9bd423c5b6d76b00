/**
 * GET /metrics: the node's Prometheus metrics (server/cluster/metrics.ts), behind
 * OPERATOR_TOKENS when some are configured (open otherwise, like GET /api/streams).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MethodNotAllowedError } from '../shared/errors.js';
import { presentedToken, requireToken } from './access.js';
import { sendError } from './respond.js';

export interface MetricsRouteDeps {
  operatorTokens: readonly string[];
  metrics: { text(): Promise<string>; readonly contentType: string };
}

/** Handles /metrics and returns true, or returns false for any other path. */
export async function handleMetrics(req: IncomingMessage, res: ServerResponse, deps: MetricsRouteDeps): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== '/metrics') return false;
  try {
    if (req.method !== 'GET') throw new MethodNotAllowedError(`${req.method} /metrics`);
    requireToken(presentedToken(req, url, false), deps.operatorTokens, 'metrics', { configKey: 'OPERATOR_TOKENS' });
    const text = await deps.metrics.text();
    res.writeHead(200, { 'content-type': deps.metrics.contentType, 'cache-control': 'no-store' });
    res.end(text);
  } catch (err) {
    sendError(res, err);
  }
  return true;
}

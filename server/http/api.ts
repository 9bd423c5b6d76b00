import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { JobManager } from '../jobs/index.js';
import type { HealthResponse, ModelSummary } from '../contract/index.js';
import { NotFoundError } from '../shared/errors.js';
import { handleJobsApi } from './jobs-api.js';
import { sendError, sendJson } from './respond.js';

/** What the API needs from the rest of the server; the app wires the real stages in. */
export interface ApiDeps {
  health(): HealthResponse;
  models(): Promise<ModelSummary[]>;
  /** Video jobs and image translation (/api/jobs*, /api/translate/image); absent: those routes 404. */
  jobs?: JobManager;
  /** X-Job-Tokens entries taken per request (MAX_JOB_TOKENS_PER_REQUEST); default 100. */
  maxJobTokensPerRequest?: number;
  logger?: Pick<Logger, 'warn' | 'error'>;
}

/** Handles /api/* and returns true, or returns false so the caller can pass the request on. */
export async function handleApi(req: IncomingMessage, res: ServerResponse, deps: ApiDeps): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (!url.pathname.startsWith('/api/')) return false;
  try {
    if (url.pathname === '/api/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      const health = deps.health();
      if (!health.ok) res.setHeader('retry-after', '5');
      sendJson(res, health.ok ? 200 : 503, health);
      return true;
    }
    if (url.pathname === '/api/models' && req.method === 'GET') {
      sendJson(res, 200, await deps.models());
      return true;
    }
    if (deps.jobs && (await handleJobsApi(req, res, url, { jobs: deps.jobs, maxTokensPerRequest: deps.maxJobTokensPerRequest ?? 100, logger: deps.logger }))) {
      return true;
    }
    sendError(res, new NotFoundError(`no route ${req.method} ${url.pathname}`));
  } catch (err) {
    sendError(res, err);
  }
  return true;
}

import { ClientError } from './client-error';
import type { HealthResponse, ModelSummary } from './contract';

const REQUEST_TIMEOUT_MS = 5000;

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(path, { signal: combined, headers: { accept: 'application/json' }, cache: 'no-store' });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ClientError('SERVER_UNREACHABLE', `Could not reach the server (${path}).`, { cause: err });
  }
  // A static preview (next start without the cyclestream server) answers /api/* with an HTML 404.
  const type = res.headers.get('content-type') ?? '';
  if (!res.ok || !type.includes('application/json')) {
    throw new ClientError('SERVER_UNREACHABLE', `The server did not answer ${path} (HTTP ${res.status}).`);
  }
  return (await res.json()) as T;
}

export function fetchModels(signal?: AbortSignal): Promise<ModelSummary[]> {
  return getJson<ModelSummary[]>('/api/models', signal);
}

export function fetchHealth(signal?: AbortSignal): Promise<HealthResponse> {
  return getJson<HealthResponse>('/api/health', signal);
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp } from '../../helpers/app.js';
import type { HealthResponse, ModelSummary } from '../../../server/contract/index.js';

test('GET /api/health and /api/models describe the server; unknown API routes are JSON 404s', async () => {
  const turn = { urls: 'turn:turn.example.org:3478', username: 'u', credential: 'p' };
  const srv = await startTestApp({ iceServers: [turn], showHiddenModels: false, maxSessions: 3 });
  try {
    const health = (await (await fetch(`${srv.url}/api/health`)).json()) as HealthResponse;
    assert.equal(health.ok, true);
    assert.equal(health.sessions, 0);
    assert.equal(health.maxSessions, 3);
    assert.deepEqual(health.iceServers, [turn]);

    // The fixtures are all marked hidden: the picker shows none of them unless asked to.
    const models = (await (await fetch(`${srv.url}/api/models`)).json()) as ModelSummary[];
    assert.deepEqual(models, []);

    const missing = await fetch(`${srv.url}/api/nope`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  } finally {
    await srv.close();
  }
});

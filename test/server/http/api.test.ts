import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestApp } from '../../helpers/app.js';
import { scratchModels } from '../inference/helpers.js';
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

test('GET /api/models gives each model its picker group, summary and CPU short side (other when the manifest has none)', async () => {
  const models = await scratchModels();
  const manifestPath = join(models.dir, 'swap-rb.json');
  const swap = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  await writeFile(manifestPath, JSON.stringify({ ...swap, group: 'painters', summary: 'Swaps red and blue.', cpuShortSidePx: 192 }));
  const srv = await startTestApp({ modelsDir: models.dir, showHiddenModels: true });
  try {
    const listed = (await (await fetch(`${srv.url}/api/models`)).json()) as ModelSummary[];
    const byId = new Map(listed.map((m) => [m.id, m]));
    assert.equal(byId.get('swap-rb')?.group, 'painters');
    assert.equal(byId.get('swap-rb')?.summary, 'Swaps red and blue.');
    assert.equal(byId.get('invert')?.group, 'other');
    assert.equal(byId.get('invert')?.summary, undefined);
    assert.equal(byId.get('swap-rb')?.cpuShortSidePx, 192);
    assert.equal('cpuShortSidePx' in byId.get('invert')!, false);
  } finally {
    await srv.close();
    await models.cleanup();
  }
});

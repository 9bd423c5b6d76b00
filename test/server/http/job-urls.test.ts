/**
 * The URLs HTTP adds to a job record (server/http/job-urls.ts): the result only once done.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobRecord } from '../../../server/contract/index.js';
import { withJobUrls } from '../../../server/http/job-urls.js';

const record = (state: JobRecord['state']) => ({ id: '0b4c1a52-4f4e-4a0e-9a53-2b1f1c0d9e11', state }) as JobRecord;

test('a done job gets its result and input URLs; an unfinished one only its input URL', () => {
  const done = withJobUrls(record('done'));
  assert.equal(done.resultUrl, `/api/jobs/${done.id}/result`);
  assert.equal(done.inputUrl, `/api/jobs/${done.id}/input`);
  for (const state of ['queued', 'running', 'failed', 'cancelled'] as const) {
    const j = withJobUrls(record(state));
    assert.equal(j.resultUrl, null, state);
    assert.equal(j.inputUrl, `/api/jobs/${j.id}/input`);
  }
});

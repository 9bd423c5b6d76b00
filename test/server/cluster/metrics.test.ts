/**
 * GET /metrics on a real node: Prometheus text with the node label, the live gauges, model run
 * latency and job durations observed from a real job, event-loop lag, and OPERATOR_TOKENS.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openAsBlob } from 'node:fs';
import { startTestApp } from '../../helpers/app.js';
import { bearer, createJob, waitEnded } from '../../helpers/jobs-http.js';
import { CLIPS } from '../jobs/helpers.js';

type Srv = Awaited<ReturnType<typeof startTestApp>>;
let open: Srv;
let guarded: Srv;
const OPERATOR = 'operator-token-0123';

before(async () => {
  open = await startTestApp({ providers: ['cpu'], processingShortSidePx: 128, nodeId: 'metrics-a' });
  guarded = await startTestApp({ providers: ['cpu'], operatorTokens: [OPERATOR] });
});

after(async () => {
  await open?.close();
  await guarded?.close();
});

/** The value of one sample line, e.g. `name{labels} 3`. */
function sample(text: string, name: string, labels = ''): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : null;
}

test('a job and its model runs show up in /metrics, with the live gauges and event-loop lag', async () => {
  const job = await createJob(open.url, await openAsBlob(CLIPS.mpeg4), 'gallop.mp4', { modelId: 'invert' });
  assert.equal((await waitEnded(open.url, job.id, job.token)).state, 'done');
  const res = await fetch(`${open.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  assert.equal(sample(text, 'cyclestream_job_duration_seconds_count', 'node="metrics-a"'), 1);
  assert.equal(sample(text, 'cyclestream_model_run_seconds_count', 'model="invert"'), job.source.frames);
  assert.equal(sample(text, 'cyclestream_job_queue_depth'), 0);
  assert.equal(sample(text, 'cyclestream_sessions'), 0);
  assert.equal(sample(text, 'cyclestream_viewers'), 0);
  assert.equal(sample(text, 'cyclestream_frames_out_per_second'), 0);
  assert.ok((sample(text, 'cyclestream_nodejs_eventloop_lag_seconds') ?? -1) >= 0, 'event-loop lag exported');
});

test('with OPERATOR_TOKENS, /metrics needs one', async () => {
  assert.equal((await fetch(`${guarded.url}/metrics`)).status, 401);
  assert.equal((await fetch(`${guarded.url}/metrics`, { headers: bearer('wrong-token-00000') })).status, 403);
  assert.equal((await fetch(`${guarded.url}/metrics`, { headers: bearer(OPERATOR) })).status, 200);
  assert.equal((await fetch(`${guarded.url}/metrics`, { method: 'POST', headers: bearer(OPERATOR) })).status, 405);
});

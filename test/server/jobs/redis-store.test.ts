/**
 * The Redis job store (cluster mode) against a real redis-server: a record reads back as it
 * was written (the probe's numbers exactly), state changes happen only from the states they
 * name, the queue counts (all and per client) follow them, tokens find their jobs newest first,
 * expiry and delete keep the indexes clean, and with append-only Redis the records survive a
 * restart of Redis.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobRow } from '../../../server/jobs/index.js';
import { RedisJobStore } from '../../../server/jobs/redis-store.js';
import { waitFor } from '../../helpers/app.js';
import { startRedis, type TestRedis } from '../../helpers/cluster.js';

let redis: TestRedis;

before(async () => {
  redis = await startRedis({ appendOnly: true });
});

after(async () => {
  await redis?.close();
});

function newJob(id: string, client: string | null, tokenHash: string | null, createdAtMs: number): Omit<JobRow, 'state' | 'framesDone' | 'attempts' | 'errorCode' | 'errorMessage' | 'resultBytes' | 'startedAtMs' | 'finishedAtMs'> {
  return {
    id,
    modelId: 'invert',
    smoothing: 0.25,
    outputWidth: 854,
    outputHeight: 480,
    processingShortSidePx: 256,
    inputName: 'clip "one".mp4',
    inputFile: 'input.mp4',
    inputBytes: 123_456,
    source: { container: 'mp4', videoCodec: 'h264', width: 854, height: 480, fps: 23.976, frames: 50, durationS: 2.085, audioCodec: 'aac' } as JobRow['source'],
    // Only stored here, so part of a probe will do; its floats must come back exactly.
    probe: { durationS: 2.0854166666666665, video: { fps: 23.976023976023978, frames: 50 } } as unknown as JobRow['probe'],
    framesTotal: 50,
    createdAtMs,
    tokenHash,
    client,
  };
}

async function ready(store: RedisJobStore): Promise<void> {
  assert.ok(await waitFor(async () => (await store.countActive().catch(() => -1)) >= 0, 5000), 'store connected');
}

test('records, state changes, counts, tokens, expiry and delete', async () => {
  const store = new RedisJobStore(redis.url);
  try {
    await ready(store);
    const t0 = Date.now();
    const a = await store.insert(newJob('a', '10.0.0.1', 'hash-a', t0));
    await store.insert(newJob('b', '10.0.0.1', 'hash-b', t0 + 1));
    await store.insert(newJob('c', null, null, t0 + 2));
    const input = newJob('a', '10.0.0.1', 'hash-a', t0);
    assert.deepEqual(a, { ...input, state: 'queued', framesDone: 0, attempts: 0, errorCode: null, errorMessage: null, resultBytes: null, startedAtMs: null, finishedAtMs: null });
    assert.deepEqual(await store.get('a'), a, 'reads back exactly, floats included');
    assert.equal(await store.get('missing'), null);
    assert.deepEqual((await store.list()).map((r) => r.id), ['c', 'b', 'a'], 'newest first');
    assert.deepEqual(await store.queuedIds(), ['a', 'b', 'c'], 'oldest first');
    assert.equal(await store.countActive(), 3);
    assert.equal(await store.countActive('10.0.0.1'), 2);
    assert.equal(await store.countActive('10.9.9.9'), 0);
    assert.deepEqual((await store.listByTokenHashes(['hash-a', 'hash-b', 'nope'])).map((r) => r.id), ['b', 'a']);

    // a: queued -> running (once) -> progress -> done.
    assert.equal(await store.markRunning('a', t0 + 10), true);
    assert.equal(await store.markRunning('a', t0 + 11), false, 'only a queued job starts');
    assert.equal(await store.isRunning('a'), true);
    await store.saveProgress('a', 20, 50);
    let row = (await store.get('a'))!;
    assert.deepEqual([row.state, row.attempts, row.framesDone, row.startedAtMs], ['running', 1, 20, t0 + 10]);
    assert.deepEqual(await store.queuedIds(), ['b', 'c']);
    assert.equal(await store.countActive(), 3, 'a running job still holds its place');
    assert.equal(await store.markDone('a', t0 + 20, 999, 50), true);
    row = (await store.get('a'))!;
    assert.deepEqual([row.state, row.resultBytes, row.framesDone, row.framesTotal, row.finishedAtMs], ['done', 999, 50, 50, t0 + 20]);
    assert.equal(await store.countActive('10.0.0.1'), 1);
    await store.saveProgress('a', 1, 50);
    assert.equal((await store.get('a'))!.framesDone, 50, 'an ended job keeps its progress');

    // b: running, requeued (its node stopped), cancelled; a cancelled job is not marked done.
    await store.markRunning('b', t0 + 30);
    await store.requeue('b');
    row = (await store.get('b'))!;
    assert.deepEqual([row.state, row.framesDone, row.attempts], ['queued', 0, 1]);
    assert.deepEqual(await store.queuedIds(), ['b', 'c'], 'back in its old place');
    assert.equal(await store.markCancelled('b', t0 + 40), true);
    assert.equal(await store.markCancelled('b', t0 + 41), false);
    assert.equal(await store.markDone('b', t0 + 42, 1, 1), false);
    assert.equal(await store.countActive('10.0.0.1'), 0);

    // c: failed from queued; an ended job keeps its state.
    await store.markFailed('c', t0 + 50, 'INVALID_MEDIA', 'no video');
    await store.markFailed('c', t0 + 51, 'OTHER', 'later');
    row = (await store.get('c'))!;
    assert.deepEqual([row.state, row.errorCode, row.errorMessage, row.finishedAtMs], ['failed', 'INVALID_MEDIA', 'no video', t0 + 50]);
    assert.equal(await store.countActive(), 0);

    assert.deepEqual((await store.expired(t0 + 41)).sort(), ['a', 'b']);
    await store.delete('a');
    await store.delete('a');
    assert.equal(await store.get('a'), null);
    assert.deepEqual((await store.list()).map((r) => r.id), ['c', 'b']);
    assert.deepEqual((await store.listByTokenHashes(['hash-a'])).map((r) => r.id), []);
    assert.deepEqual((await store.expired(t0 + 1000)).sort(), ['b', 'c']);
  } finally {
    store.close();
    store.close();
  }
});

test('records survive a restart of an append-only Redis; while it is down, calls fail at once', async () => {
  const store = new RedisJobStore(redis.url);
  try {
    await ready(store);
    await store.insert(newJob('kept', '10.0.0.2', 'hash-kept', Date.now()));
    await redis.stop();
    const t0 = Date.now();
    await assert.rejects(store.get('kept'));
    assert.ok(Date.now() - t0 < 2000, 'refused without waiting for Redis');
    await redis.start();
    assert.ok(await waitFor(async () => (await store.get('kept').catch(() => null)) !== null, 10_000), 'the record is back');
    assert.equal(await store.countActive('10.0.0.2'), 1);
    assert.deepEqual(await store.queuedIds(), ['kept']);
  } finally {
    store.close();
  }
});

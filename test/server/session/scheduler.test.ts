import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatestFrameScheduler, type LatestFrameSchedulerStats } from '../../../server/session/index.js';
import { CycleStreamError, InferenceError } from '../../../server/shared/errors.js';

/** A fake slow stage whose jobs finish only when the test says so. */
function controllable<TIn>() {
  const jobs: { input: TIn; resolve: (v: string) => void; reject: (e: unknown) => void }[] = [];
  const process = (input: TIn) =>
    new Promise<string>((resolve, reject) => {
      jobs.push({ input, resolve, reject });
    });
  return { jobs, process };
}

/** Lets already-resolved promise chains run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

function assertBalanced(s: LatestFrameSchedulerStats): void {
  assert.equal(s.submitted, s.processed + s.failed + s.dropped + s.inFlight + s.pending, JSON.stringify(s));
}

test('one job in flight, newest frame waits, older pending frames are dropped', async () => {
  const { jobs, process } = controllable<number>();
  const results: [string, number][] = [];
  const dropped: number[] = [];
  const sched = new LatestFrameScheduler<number, string>({
    process,
    onResult: (out, input) => results.push([out, input]),
    onDrop: (input) => dropped.push(input),
  });
  sched.push(1);
  assert.equal(jobs.length, 1, 'first frame starts at once');
  sched.push(2);
  sched.push(3);
  sched.push(4);
  assert.equal(jobs.length, 1, 'still one in flight');
  assert.deepEqual(dropped, [2, 3]);
  assert.deepEqual(sched.stats(), {
    submitted: 4,
    processed: 0,
    failed: 0,
    dropped: 2,
    inFlight: 1,
    pending: 1,
    resultsSkipped: 0,
    closed: false,
  });

  jobs[0].resolve('r1');
  await settle();
  assert.equal(jobs.length, 2);
  assert.equal(jobs[1].input, 4, 'the next job is the newest frame');
  sched.push(5);
  jobs[1].resolve('r4');
  await settle();
  assert.equal(jobs[2].input, 5);
  jobs[2].resolve('r5');
  await sched.idle();
  assert.deepEqual(results, [
    ['r1', 1],
    ['r4', 4],
    ['r5', 5],
  ]);
  const s = sched.stats();
  assert.equal(s.processed, 3);
  assert.equal(s.dropped, 2);
  assert.equal(s.inFlight, 0);
  assert.equal(s.pending, 0);
  assertBalanced(s);
  await sched.close();
});

test('delay never builds up: however many frames arrive during a job, at most one waits', async () => {
  const { jobs, process } = controllable<number>();
  const sched = new LatestFrameScheduler<number, string>({ process });
  let frame = 0;
  for (let round = 0; round < 20; round++) {
    for (let k = 0; k < 7; k++) sched.push(frame++);
    const s = sched.stats();
    assert.ok(s.pending <= 1 && s.inFlight <= 1);
    assertBalanced(s);
    jobs[jobs.length - 1].resolve(`done ${round}`);
    await settle();
    // Each new job starts on the most recent frame pushed so far.
    assert.equal(jobs[jobs.length - 1].input, frame - 1);
  }
  jobs[jobs.length - 1].resolve('last');
  await sched.idle();
  assertBalanced(sched.stats());
  assert.equal(sched.stats().processed, jobs.length);
  await sched.close();
});

test('a failing job is reported as a CycleStreamError and the next frame still runs', async () => {
  const { jobs, process } = controllable<number>();
  const errors: [CycleStreamError, number][] = [];
  const results: string[] = [];
  const sched = new LatestFrameScheduler<number, string>({
    process,
    onResult: (out) => results.push(out),
    onError: (err, input) => errors.push([err, input]),
  });
  sched.push(1);
  sched.push(2);
  jobs[0].reject(new Error('ORT exploded'));
  await settle();
  jobs[1].resolve('ok2');
  await sched.idle();
  assert.equal(errors.length, 1);
  assert.ok(errors[0][0] instanceof InferenceError);
  assert.equal(errors[0][0].message, 'ORT exploded');
  assert.equal(errors[0][1], 1);
  assert.deepEqual(results, ['ok2']);
  assert.equal(sched.stats().failed, 1);
  assertBalanced(sched.stats());
  await sched.close();
});

test('a throwing onResult callback does not wedge the scheduler', async () => {
  const { jobs, process } = controllable<number>();
  const errors: string[] = [];
  const sched = new LatestFrameScheduler<number, string>({
    process,
    onResult: () => {
      throw new Error('consumer bug');
    },
    onError: (err) => errors.push(err.message),
  });
  sched.push(1);
  jobs[0].resolve('a');
  await settle();
  sched.push(2);
  assert.equal(jobs.length, 2);
  jobs[1].resolve('b');
  await sched.idle();
  assert.deepEqual(errors, ['consumer bug', 'consumer bug']);
  await sched.close();
});

test('close drops the pending frame, waits for the one in flight, refuses new frames; idempotent', async () => {
  const { jobs, process } = controllable<number>();
  const results: number[] = [];
  const dropped: number[] = [];
  const sched = new LatestFrameScheduler<number, string>({
    process,
    onResult: (_out, input) => results.push(input),
    onDrop: (input) => dropped.push(input),
  });
  sched.push(1);
  sched.push(2);
  let closed = false;
  const closing = sched.close().then(() => {
    closed = true;
  });
  await settle();
  assert.equal(closed, false, 'close waits for the job in flight');
  assert.deepEqual(dropped, [2]);
  assert.equal(sched.push(3), false);
  assert.deepEqual(dropped, [2, 3]);
  jobs[0].resolve('r1');
  await closing;
  assert.equal(closed, true);
  assert.deepEqual(results, [1], 'the in-flight result is still delivered');
  assert.equal(jobs.length, 1, 'nothing started after close');
  await sched.close();
  await sched[Symbol.asyncDispose]();
  const s = sched.stats();
  assert.equal(s.closed, true);
  assertBalanced(s);
});

test('async iterator: yields results in order, a slow consumer skips to the newest, ends on close', async () => {
  const { jobs, process } = controllable<number>();
  const sched = new LatestFrameScheduler<number, string>({ process });
  const it = sched.results();

  sched.push(1);
  const first = it.next();
  jobs[0].resolve('r1');
  assert.deepEqual(await first, { done: false, value: { input: 1, output: 'r1' } });

  // Nobody is reading while two results arrive: only the newest is kept.
  sched.push(2);
  jobs[1].resolve('r2');
  await settle();
  sched.push(3);
  jobs[2].resolve('r3');
  await settle();
  assert.deepEqual(await it.next(), { done: false, value: { input: 3, output: 'r3' } });
  assert.equal(sched.stats().resultsSkipped, 1);

  const waiting = it.next();
  await sched.close();
  assert.deepEqual(await waiting, { done: true, value: undefined });
  assert.deepEqual(await it.next(), { done: true, value: undefined });
});

test('for await over results() stops when the scheduler closes', async () => {
  const sched = new LatestFrameScheduler<number, number>({ process: async (n) => n * 10 });
  const seen: number[] = [];
  const consumer = (async () => {
    for await (const r of sched.results()) seen.push(r.output);
  })();
  sched.push(1);
  await sched.idle();
  await settle();
  sched.push(2);
  await sched.idle();
  await settle();
  await sched.close();
  await consumer;
  assert.deepEqual(seen, [10, 20]);
});

/** ConcurrencyGate (server/shared/gate.ts): N running, N waiting in order, the rest refused with Retry-After. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BusyError, ClosedError, ConcurrencyGate } from '../../../server/shared/index.js';

test('running and waiting places, handed on in order; past them a BusyError with Retry-After', async () => {
  const gate = new ConcurrencyGate({ maxRunning: 1, maxWaiting: 2, what: 'thing', retryAfterS: 7 });
  const order: string[] = [];
  const leaveA = await gate.enter();
  const b = gate.enter().then((leave) => (order.push('b'), leave));
  const c = gate.enter().then((leave) => (order.push('c'), leave));
  assert.equal(gate.full, true);
  await assert.rejects(gate.enter(), (err: unknown) => err instanceof BusyError && err.retryAfterS === 7 && /1 thing\(s\) running and 2 waiting/.test(err.message));
  assert.throws(() => gate.check(), BusyError);
  leaveA();
  leaveA(); // a second leave gives nothing back twice
  const leaveB = await b;
  assert.deepEqual([gate.running, gate.waiting], [1, 1], 'the place passed straight on');
  leaveB();
  const leaveC = await c;
  assert.deepEqual(order, ['b', 'c']);
  leaveC();
  assert.deepEqual([gate.running, gate.waiting, gate.full], [0, 0, false]);
});

test('close() refuses the waiters and every later caller', async () => {
  const gate = new ConcurrencyGate({ maxRunning: 1, maxWaiting: 1, what: 'thing', retryAfterS: 1 });
  await gate.enter();
  const waiting = gate.enter();
  gate.close();
  await assert.rejects(waiting, ClosedError);
  await assert.rejects(gate.enter(), ClosedError);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Listeners } from '../../../server/shared/index.js';

test('Listeners: every callback hears each value, a throwing one is reported and the rest still run', () => {
  const thrown: unknown[] = [];
  const listeners = new Listeners<number>((err) => thrown.push(err));
  const a: number[] = [];
  const b: number[] = [];
  const offA = listeners.add((v) => a.push(v));
  listeners.add(() => {
    throw new Error('boom');
  });
  listeners.add((v) => b.push(v));
  listeners.emit(1);
  assert.deepEqual([a, b], [[1], [1]]);
  assert.equal(thrown.length, 1);
  assert.equal(listeners.size, 3);

  offA();
  listeners.emit(2);
  assert.deepEqual([a, b], [[1], [1, 2]]);

  listeners.clear();
  listeners.emit(3);
  assert.deepEqual(b, [1, 2]);
  assert.equal(listeners.size, 0);
});

test('Listeners: a callback that unsubscribes itself during emit does not disturb the others', () => {
  const listeners = new Listeners<string>(() => assert.fail('nothing throws'));
  const heard: string[] = [];
  const off = listeners.add((v) => {
    heard.push(`once:${v}`);
    off();
  });
  listeners.add((v) => heard.push(`always:${v}`));
  listeners.emit('x');
  listeners.emit('y');
  assert.deepEqual(heard, ['once:x', 'always:x', 'always:y']);
});

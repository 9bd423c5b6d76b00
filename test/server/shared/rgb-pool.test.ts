import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RgbPool } from '../../../server/shared/index.js';

test('a released buffer of the size asked for is handed out again; a new one otherwise', () => {
  const pool = new RgbPool(2);
  const a = pool.take(4, 2);
  assert.deepEqual([a.width, a.height, a.data.length], [4, 2, 24]);
  assert.notEqual(pool.take(4, 2), a, 'nothing released yet: a new buffer');
  pool.release(a);
  assert.equal(pool.take(4, 2), a);
  assert.notEqual(pool.take(4, 2), a, 'taken once, not twice');
});

test('buffers of another size are dropped, not handed out, once the size changes', () => {
  const pool = new RgbPool(4);
  const small = pool.take(2, 2);
  pool.release(small);
  const big = pool.take(8, 6);
  assert.deepEqual([big.width, big.height, big.data.length], [8, 6, 144]);
  pool.release(big);
  assert.equal(pool.take(8, 6), big);
  assert.notEqual(pool.take(2, 2), small, 'the old size went when the new one was asked for');
});

test('keeps at most maxFree released buffers', () => {
  const pool = new RgbPool(2);
  const [a, b, c] = [pool.take(2, 2), pool.take(2, 2), pool.take(2, 2)];
  for (const img of [a, b, c]) pool.release(img);
  const again = new Set([pool.take(2, 2), pool.take(2, 2), pool.take(2, 2)]);
  assert.equal([a, b, c].filter((img) => again.has(img)).length, 2);
});

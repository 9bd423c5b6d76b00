import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlidingWindow } from '../../../server/session/index.js';

test('sliding window: median and rate over the last second only', () => {
  const w = new SlidingWindow(1000, 8);
  for (let i = 0; i < 5; i++) w.add(10 + i, 100 * i);
  assert.equal(w.median(400), 12);
  assert.equal(w.rate(400), 5);
  assert.equal(w.count(1250), 2); // samples at 0, 100 and 200 ms are more than 1 s old
  assert.equal(w.median(1250), 13.5);
  // The ring keeps the newest samples when full.
  for (let i = 0; i < 20; i++) w.add(i, 2000);
  assert.equal(w.count(2000), 8);
  assert.equal(w.median(2000), 15.5);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlidingWindow, fitWithin } from '../../../server/session/index.js';

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

test('frames above 1920x1080 are scaled down, keeping the aspect ratio and even sizes', () => {
  assert.deepEqual(fitWithin(640, 480, 1920, 1080), { width: 640, height: 480 });
  assert.deepEqual(fitWithin(3840, 2160, 1920, 1080), { width: 1920, height: 1080 });
  assert.deepEqual(fitWithin(2560, 1920, 1920, 1080), { width: 1440, height: 1080 });
  assert.deepEqual(fitWithin(641, 481, 1920, 1080), { width: 640, height: 480 });
});

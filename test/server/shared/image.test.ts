import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitWithin } from '../../../server/shared/index.js';

test('frames above 1920x1080 are scaled down, keeping the aspect ratio and even sizes', () => {
  assert.deepEqual(fitWithin(640, 480, 1920, 1080), { width: 640, height: 480 });
  assert.deepEqual(fitWithin(3840, 2160, 1920, 1080), { width: 1920, height: 1080 });
  assert.deepEqual(fitWithin(2560, 1920, 1920, 1080), { width: 1440, height: 1080 });
  assert.deepEqual(fitWithin(641, 481, 1920, 1080), { width: 640, height: 480 });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processingShortSide } from '../../../server/session/processing-size.js';

test('an explicit short side wins over the config default and the model hint, on any provider', () => {
  assert.deepEqual(processingShortSide(320, 256, 192, 'cpu'), { px: 320, auto: false });
  assert.deepEqual(processingShortSide(128, 256, undefined, 'cuda'), { px: 128, auto: false });
});

test('auto on the CPU takes the model hint when it is below the config default', () => {
  assert.deepEqual(processingShortSide('auto', 256, 192, 'cpu'), { px: 192, auto: true });
  assert.deepEqual(processingShortSide(undefined, 256, 192, 'cpu'), { px: 192, auto: true });
});

test('auto on the CPU without a hint is the config default', () => {
  assert.deepEqual(processingShortSide('auto', 256, undefined, 'cpu'), { px: 256, auto: true });
  assert.deepEqual(processingShortSide(undefined, 320, undefined, 'cpu'), { px: 320, auto: true });
});

test('auto on a GPU ignores the hint', () => {
  assert.deepEqual(processingShortSide('auto', 256, 192, 'cuda'), { px: 256, auto: true });
  assert.deepEqual(processingShortSide(undefined, 256, 192, 'webgpu'), { px: 256, auto: true });
});

test('a hint above the config default does not raise it', () => {
  assert.deepEqual(processingShortSide('auto', 192, 256, 'cpu'), { px: 192, auto: true });
});

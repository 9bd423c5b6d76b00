import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultFileModel } from '../../../server/inference/index.js';

test('files default to the larger -hq model of the live default where it is installed', () => {
  assert.equal(defaultFileModel('horse2zebra', ['horse2zebra', 'horse2zebra-hq', 'zebra2horse']), 'horse2zebra-hq');
  assert.equal(defaultFileModel('horse2zebra', ['horse2zebra', 'zebra2horse']), 'horse2zebra');
  assert.equal(defaultFileModel('zebra2horse', ['horse2zebra-hq', 'zebra2horse']), 'zebra2horse', 'another translation\'s -hq is not taken');
  assert.equal(defaultFileModel(null, ['horse2zebra-hq']), null);
});

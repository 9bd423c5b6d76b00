import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { KeyframePolicy } from '../../../server/session/keyframes.js';

test('KeyframePolicy: the first output frame is a key frame, and many requests cost one', () => {
  const policy = new KeyframePolicy(() => true, pino({ level: 'silent' }));
  assert.equal(policy.takeOutput(), true, 'nothing decodes before a key frame');
  assert.equal(policy.takeOutput(), false);
  policy.forceOutput('publisher-pli');
  policy.forceOutput('viewer');
  policy.forceOutput('sink-behind');
  assert.equal(policy.takeOutput(), true);
  assert.equal(policy.takeOutput(), false);
});

test('KeyframePolicy: input requests go to the publisher, which decides (rate limit)', () => {
  const asked: string[] = [];
  let allow = true;
  const policy = new KeyframePolicy((reason) => {
    asked.push(reason);
    return allow;
  }, pino({ level: 'silent' }));
  assert.equal(policy.requestInput('decode-error'), true);
  allow = false;
  assert.equal(policy.requestInput('backpressure'), false);
  assert.deepEqual(asked, ['decode-error', 'backpressure']);
});

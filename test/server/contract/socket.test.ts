import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIMITS, setOptionsSchema, startSessionSchema } from '../../../server/contract/index.js';

const { min, max } = LIMITS.processingShortSidePx;

test("session:options takes a short side within the limits, or 'auto'", () => {
  for (const px of [min, 192, max, 'auto'] as const) {
    assert.deepEqual(setOptionsSchema.parse({ processingShortSidePx: px }), { processingShortSidePx: px });
  }
  for (const bad of [min - 1, max + 1, 191.5, 'Auto', 'auto ', '192', null, true]) {
    assert.equal(setOptionsSchema.safeParse({ processingShortSidePx: bad }).success, false, `processingShortSidePx ${JSON.stringify(bad)}`);
  }
  assert.equal(setOptionsSchema.safeParse({}).success, false, 'nothing to set');
});

test('session:start leaves the short side out for auto, and takes only numbers within the limits', () => {
  const start = { offerSdp: 'v=0', modelId: 'invert' };
  assert.equal(startSessionSchema.parse(start).processingShortSidePx, undefined);
  assert.equal(startSessionSchema.parse({ ...start, processingShortSidePx: 192 }).processingShortSidePx, 192);
  for (const bad of [min - 1, max + 1, 'auto']) {
    assert.equal(startSessionSchema.safeParse({ ...start, processingShortSidePx: bad }).success, false, `processingShortSidePx ${JSON.stringify(bad)}`);
  }
});

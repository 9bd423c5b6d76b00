/** Capability tokens (server/shared/tokens.ts): random, hashed, compared hash to hash. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hashToken, newToken, sameHash, tokenIsOneOf } from '../../../server/shared/index.js';

test('256 random bits, base64url, never the same twice', () => {
  const tokens = new Set(Array.from({ length: 1000 }, newToken));
  assert.equal(tokens.size, 1000);
  for (const t of tokens) assert.match(t, /^[A-Za-z0-9_-]{43}$/);
});

test('stored as SHA-256; compared as hashes, whatever the lengths', () => {
  const t = newToken();
  assert.equal(hashToken(t), createHash('sha256').update(t).digest('hex'));
  assert.equal(sameHash(hashToken(t), hashToken(t)), true);
  assert.equal(sameHash(hashToken(t), hashToken(`${t}x`)), false);
  assert.equal(sameHash(hashToken(t), 'abc'), false, 'a malformed hash never matches');
  assert.equal(tokenIsOneOf('operator-1', ['x', 'operator-1', 'a-much-longer-operator-token']), true);
  assert.equal(tokenIsOneOf('operator', ['operator-1']), false);
  assert.equal(tokenIsOneOf('anything', []), false);
});

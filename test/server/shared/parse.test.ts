import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { BadRequestError, ManifestError, parseWith } from '../../../server/shared/index.js';

const schema = z.object({ name: z.string().min(1), size: z.number().int().optional() });

test('parseWith: the parsed value, or the named error class with the field and the problem', () => {
  const parse = parseWith(schema, BadRequestError);
  assert.deepEqual(parse({ name: 'a', size: 2 }), { name: 'a', size: 2 });
  assert.throws(
    () => parse({ name: 'a', size: 1.5 }),
    (err: unknown) => err instanceof BadRequestError && /^size: /.test(err.message),
  );
  assert.throws(
    () => parse('not an object'),
    (err: unknown) => err instanceof BadRequestError && /^payload: /.test(err.message),
  );
});

test('parseWith: another class, a name for the whole value, and a leading context', () => {
  const parse = parseWith(schema, ManifestError, '(root)');
  assert.throws(
    () => parse(null, 'zebra.json'),
    (err: unknown) => err instanceof ManifestError && err.code === 'MANIFEST_INVALID' && /^zebra\.json: \(root\): /.test(err.message),
  );
});

import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertModelId, listModels, parseManifest } from '../../../server/inference/index.js';
import { ManifestError, ModelIdError } from '../../../server/shared/errors.js';
import { FIXTURE_MODELS, scratchModels } from './helpers.js';

async function goodManifest(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(FIXTURE_MODELS, 'invert.json'), 'utf8')) as Record<string, unknown>;
}

test('a fixture manifest validates', async () => {
  const m = parseManifest(await goodManifest(), 'invert.json');
  assert.equal(m.id, 'invert');
  assert.equal(m.input.sizeMultiple, 4);
  assert.equal(m.provenance.kind, 'fixture');
  assert.equal(m.hidden, true);
});

test('a manifest missing a field is refused with the field named', async () => {
  const m = await goodManifest();
  delete m.title;
  assert.throws(() => parseManifest(m, 'x.json'), (err: unknown) => err instanceof ManifestError && /title/.test(err.message));
});

test('a reversed value range is refused', async () => {
  const m = await goodManifest();
  m.input = { ...(m.input as object), range: [1, -1] };
  assert.throws(() => parseManifest(m, 'x.json'), (err: unknown) => err instanceof ManifestError && /input\.range/.test(err.message));
});

test('a bad id is refused, in the manifest and as a request', async () => {
  const m = await goodManifest();
  m.id = '../etc';
  assert.throws(() => parseManifest(m, 'x.json'), ManifestError);
  for (const bad of ['..', '../invert', 'a/b', 'Invert', '', '.hidden', 42]) {
    assert.throws(() => assertModelId(bad), ModelIdError, `id ${JSON.stringify(bad)}`);
  }
  assert.equal(assertModelId('swap-rb'), 'swap-rb');
});

test('listModels lists the fixtures (hidden included) sorted by id', async () => {
  const { models, invalid } = await listModels(FIXTURE_MODELS);
  assert.deepEqual(
    models.map((m) => m.id),
    ['broken', 'invert', 'swap-rb'],
  );
  assert.ok(models.every((m) => m.hidden === true));
  assert.deepEqual(invalid, []);
});

test('listModels reports bad manifests without failing the listing', async () => {
  const { dir, cleanup } = await scratchModels();
  try {
    await writeFile(join(dir, 'notjson.json'), '{ nope');
    const renamed = await goodManifest();
    await writeFile(join(dir, 'other-name.json'), JSON.stringify(renamed));
    const noFile = { ...(await goodManifest()), id: 'nofile', file: 'nofile.onnx' };
    await writeFile(join(dir, 'nofile.json'), JSON.stringify(noFile));
    await rm(join(dir, 'swap-rb.json'));
    await writeFile(join(dir, 'README.txt'), 'ignored');
    const { models, invalid } = await listModels(dir);
    assert.deepEqual(
      models.map((m) => m.id),
      ['broken', 'invert'],
    );
    assert.deepEqual(
      invalid.map((i) => i.file),
      ['nofile.json', 'notjson.json', 'other-name.json'],
    );
    assert.ok(invalid.every((i) => i.error instanceof ManifestError));
    assert.match(invalid[0].error.message, /missing/);
    assert.match(invalid[1].error.message, /not JSON/);
    assert.match(invalid[2].error.message, /does not match/);
  } finally {
    await cleanup();
  }
});

test('listModels of a missing folder is empty', async () => {
  const { models, invalid } = await listModels(join(FIXTURE_MODELS, 'does-not-exist'));
  assert.equal(models.length + invalid.length, 0);
});

test('group and summary are optional; an unknown group and an overlong summary are refused', async () => {
  const m = await goodManifest();
  assert.equal(parseManifest({ ...m, group: 'painters', summary: 'Paints like Monet.' }, 'x.json').group, 'painters');
  assert.throws(() => parseManifest({ ...m, group: 'sculptors' }, 'x.json'), (err: unknown) => err instanceof ManifestError && /group/.test(err.message));
  assert.throws(() => parseManifest({ ...m, summary: 'x'.repeat(201) }, 'x.json'), (err: unknown) => err instanceof ManifestError && /summary/.test(err.message));
});

test('cpuShortSidePx is optional; a whole number of pixels within the processing limits is accepted', async () => {
  const m = await goodManifest();
  assert.equal(parseManifest(m, 'x.json').cpuShortSidePx, undefined);
  assert.equal(parseManifest({ ...m, cpuShortSidePx: 192 }, 'x.json').cpuShortSidePx, 192);
  for (const bad of [63, 1081, 191.5, '192', null]) {
    assert.throws(
      () => parseManifest({ ...m, cpuShortSidePx: bad }, 'x.json'),
      (err: unknown) => err instanceof ManifestError && /cpuShortSidePx/.test(err.message),
      `cpuShortSidePx ${JSON.stringify(bad)}`,
    );
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createInferenceHost, type SessionFactory } from '../../../server/inference/index.js';
import { ModelLoadError, ProviderUnavailableError } from '../../../server/shared/errors.js';
import { FIXTURE_MODELS, captureLogger } from './helpers.js';
import * as ort from 'onnxruntime-node';

const PIXEL = { width: 4, height: 4, data: new Uint8Array(48).fill(200) };

/** Real ORT sessions, except that the listed providers fail the way they do without a GPU. */
function failing(unavailable: Record<string, string>, calls: string[]): SessionFactory {
  return async (path, options) => {
    const provider = String(options.executionProviders?.[0]);
    calls.push(provider);
    const reason = unavailable[provider];
    if (reason) throw new Error(reason);
    return ort.InferenceSession.create(path, options);
  };
}

test('injected: cuda and webgpu fail, cpu runs, and the log says which and why', async () => {
  const calls: string[] = [];
  const { logger, lines } = captureLogger();
  await using host = createInferenceHost({
    modelsDir: FIXTURE_MODELS,
    intraOpThreads: 1,
    createSession: failing({ cuda: 'cuda provider library not bundled', webgpu: 'No supported adapters' }, calls),
    logger,
  });
  const gen = await host.loadModel('invert');
  assert.deepEqual(calls, ['cuda', 'webgpu', 'cpu'], 'default order');
  assert.equal(gen.provider, 'cpu');
  assert.equal(gen.stats().provider, 'cpu');
  assert.equal((await gen.run(PIXEL)).data[0], 55);

  const warns = lines.filter((l) => l.level === 40);
  assert.deepEqual(
    warns.map((l) => [l.provider, l.err]),
    [
      ['cuda', 'cuda provider library not bundled'],
      ['webgpu', 'No supported adapters'],
    ],
  );
  const chosen = lines.find((l) => l.level === 30);
  assert.equal(chosen?.provider, 'cpu');
  assert.deepEqual(chosen?.skipped, ['cuda', 'webgpu']);
  assert.equal(chosen?.model, 'invert');
});

test('injected: the first provider that works wins and later ones are not tried', async () => {
  const calls: string[] = [];
  // A stand-in that "creates" a webgpu session by running on CPU underneath.
  const factory: SessionFactory = async (path, options) => {
    const provider = String(options.executionProviders?.[0]);
    calls.push(provider);
    if (provider === 'cuda') throw new Error('no cuda');
    return ort.InferenceSession.create(path, { ...options, executionProviders: ['cpu'] });
  };
  await using host = createInferenceHost({ modelsDir: FIXTURE_MODELS, providers: ['cuda', 'webgpu', 'cpu'], createSession: factory });
  const gen = await host.loadModel('invert');
  assert.equal(gen.provider, 'webgpu');
  assert.deepEqual(calls, ['cuda', 'webgpu']);
});

test('injected: session options carry the configured threads, full optimisation, sequential mode', async () => {
  const seen: ort.InferenceSession.SessionOptions[] = [];
  await using host = createInferenceHost({
    modelsDir: FIXTURE_MODELS,
    providers: ['cpu'],
    intraOpThreads: 2,
    createSession: async (path, options) => {
      seen.push(options);
      return ort.InferenceSession.create(path, options);
    },
  });
  await host.loadModel('invert');
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].executionProviders, ['cpu']);
  assert.equal(seen[0].intraOpNumThreads, 2);
  assert.equal(seen[0].graphOptimizationLevel, 'all');
  assert.equal(seen[0].executionMode, 'sequential');
});

test('injected: when every provider is unavailable (no cpu in the list) it is a ProviderUnavailableError', async () => {
  const calls: string[] = [];
  await using host = createInferenceHost({ modelsDir: FIXTURE_MODELS, providers: ['cuda', 'webgpu'], createSession: failing({ cuda: 'nope', webgpu: 'nope' }, calls) });
  await assert.rejects(
    host.loadModel('invert'),
    (err: unknown) => err instanceof ProviderUnavailableError && /cuda: nope; webgpu: nope/.test(err.message),
  );
  assert.equal(host.openSessions(), 0);
});

test('a bad provider list or thread count is refused when the host is made, before anything loads', () => {
  assert.throws(() => createInferenceHost({ modelsDir: FIXTURE_MODELS, providers: [] }), /provider list is empty/);
  assert.throws(
    // Deliberately outside the type, as a config file could be.
    () => createInferenceHost({ modelsDir: FIXTURE_MODELS, providers: ['tpu' as 'cpu'] }),
    /unknown execution provider/,
  );
  assert.throws(() => createInferenceHost({ modelsDir: FIXTURE_MODELS, intraOpThreads: 0 }), /intraOpThreads must be a positive integer/);
});

test('real ORT: the default chain falls back from cuda and webgpu to cpu on this machine', async (t) => {
  const available = ort.listSupportedBackends().map((b) => b.name);
  const { logger, lines } = captureLogger();
  await using host = createInferenceHost({ modelsDir: FIXTURE_MODELS, intraOpThreads: 1, logger });
  const gen = await host.loadModel('invert');
  if (gen.provider !== 'cpu') {
    // A machine with a working GPU provider legitimately stops earlier in the chain.
    t.diagnostic(`GPU provider ${gen.provider} available (backends: ${available.join(', ')})`);
    return;
  }
  const failed = lines.filter((l) => l.level === 40).map((l) => l.provider);
  assert.deepEqual(failed, ['cuda', 'webgpu']);
  assert.ok(lines.filter((l) => l.level === 40).every((l) => typeof l.err === 'string' && l.err.length > 0));
  assert.equal((await gen.run(PIXEL)).data[0], 55);
});

test('real ORT: a broken model fails on every provider and is a ModelLoadError', async () => {
  await using host = createInferenceHost({ modelsDir: FIXTURE_MODELS, providers: ['webgpu', 'cpu'] });
  await assert.rejects(host.loadModel('broken'), ModelLoadError);
});

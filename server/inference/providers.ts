import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelLoadError, ProviderUnavailableError } from '../shared/errors.js';
import { shortMessage, type StageLogger } from './logger.js';

import { PROVIDERS, type Provider } from '../contract/index.js';

export const EXECUTION_PROVIDERS = PROVIDERS;
export type ExecutionProviderName = Provider;
export const DEFAULT_PROVIDERS: readonly ExecutionProviderName[] = Object.freeze([...PROVIDERS]);

/** What loading needs to know about a session, wherever it lives (this thread or a worker). */
export interface SessionInfo {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly ort.InferenceSession.ValueMetadata[];
  release(): Promise<void>;
}

/** The part of an ORT session the generator uses; lets tests inject sessions. */
export interface OrtSession extends SessionInfo {
  run(
    feeds: ort.InferenceSession.FeedsType,
    fetches: ort.InferenceSession.FetchesType,
  ): Promise<ort.InferenceSession.ReturnType>;
}

/** Creates a session for one model file with exactly the providers in `options`. */
export type SessionFactory = (modelPath: string, options: ort.InferenceSession.SessionOptions) => Promise<OrtSession>;

export const createOrtSession: SessionFactory = (modelPath, options) => ort.InferenceSession.create(modelPath, options);

export function assertProviders(providers: readonly string[]): readonly ExecutionProviderName[] {
  if (providers.length === 0) throw new Error('execution provider list is empty');
  for (const p of providers) {
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(p)) {
      throw new Error(`unknown execution provider ${JSON.stringify(p)}; use ${EXECUTION_PROVIDERS.join(', ')}`);
    }
  }
  return providers as readonly ExecutionProviderName[];
}

export interface FallbackOptions<S extends SessionInfo = OrtSession> {
  modelId: string;
  modelPath: string;
  /** The file for one provider when it differs (the fp16 copy on GPU providers); default modelPath. */
  modelPathFor?: (provider: ExecutionProviderName) => string;
  providers: readonly ExecutionProviderName[];
  intraOpThreads: number;
  /** A SessionFactory, or one that opens the session in an inference worker. */
  createSession: (modelPath: string, options: ort.InferenceSession.SessionOptions) => Promise<S>;
  logger: StageLogger;
}

/**
 * Tries each provider in order with a session of its own. ORT fails the whole session
 * when one listed provider cannot start (webgpu: "No supported adapters"; cuda: provider
 * library not bundled), so listing them all in one session would give no fallback.
 */
export async function createSessionWithFallback<S extends SessionInfo = OrtSession>(
  opts: FallbackOptions<S>,
): Promise<{ session: S; provider: ExecutionProviderName }> {
  const failures: { provider: ExecutionProviderName; error: string }[] = [];
  for (const provider of opts.providers) {
    try {
      const modelPath = opts.modelPathFor?.(provider) ?? opts.modelPath;
      const session = await opts.createSession(modelPath, {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        intraOpNumThreads: opts.intraOpThreads,
        interOpNumThreads: 1,
      });
      opts.logger.info(
        { model: opts.modelId, provider, file: basename(modelPath), skipped: failures.map((f) => f.provider) },
        `inference on ${provider}`,
      );
      return { session, provider };
    } catch (err) {
      const error = shortMessage(err);
      failures.push({ provider, error });
      opts.logger.warn({ model: opts.modelId, provider, err: error }, `execution provider ${provider} failed`);
    }
  }
  const detail = failures.map((f) => `${f.provider}: ${f.error}`).join('; ');
  // The CPU provider is always there, so when it fails too the model itself is at fault.
  if (failures.some((f) => f.provider === 'cpu')) {
    throw new ModelLoadError(`model ${opts.modelId}: cannot create a session (${detail})`);
  }
  throw new ProviderUnavailableError(`model ${opts.modelId}: no execution provider available (${detail})`);
}

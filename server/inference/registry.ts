import { access, readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  ClosedError,
  ManifestError,
  ModelLoadError,
  ModelNotFoundError,
  asCycleStreamError,
} from '../shared/errors.js';
import type { Closable } from '../shared/image.js';
import { createGenerator } from './generator.js';
import type { Generator } from './generator-shell.js';
import { silentLogger, type StageLogger } from './logger.js';
import { assertModelId, readManifest, type ModelManifest } from './manifest.js';
import {
  DEFAULT_PROVIDERS,
  assertProviders,
  createOrtSession,
  createSessionWithFallback,
  type ExecutionProviderName,
  type SessionFactory,
  type SessionInfo,
} from './providers.js';
import { InferenceWorker } from './worker-client.js';
import { createWorkerGenerator } from './worker-generator.js';
import { BatchRunner } from './batch-runner.js';

export interface InvalidModel {
  /** The manifest file name inside modelsDir. */
  readonly file: string;
  readonly error: ManifestError;
}

export interface ModelListing {
  /** Valid manifests, sorted by id; hidden ones (fixtures) included, flagged `hidden`. */
  readonly models: readonly ModelManifest[];
  readonly invalid: readonly InvalidModel[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads every models/<id>.json. A bad manifest is reported in `invalid`, never fatal. */
export async function listModels(modelsDir: string): Promise<ModelListing> {
  let names: string[];
  try {
    names = await readdir(modelsDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { models: [], invalid: [] };
    throw asCycleStreamError(err, ManifestError);
  }
  const models: ModelManifest[] = [];
  const invalid: InvalidModel[] = [];
  for (const file of names.filter((n) => n.endsWith('.json')).sort()) {
    const path = join(modelsDir, file);
    try {
      const manifest = await readManifest(path);
      const stem = file.slice(0, -'.json'.length);
      if (manifest.id !== stem) throw new ManifestError(`${path}: id ${JSON.stringify(manifest.id)} does not match the file name`);
      if (!(await exists(join(modelsDir, manifest.file)))) throw new ManifestError(`${path}: model file ${manifest.file} is missing`);
      models.push(manifest);
    } catch (err) {
      invalid.push({ file, error: err instanceof ManifestError ? err : new ManifestError(`${path}: ${(err as Error).message}`, { cause: err }) });
    }
  }
  models.sort((a, b) => a.id.localeCompare(b.id));
  return { models, invalid };
}

/** Everything a host loads models with, given once (from Config in the server). */
export interface InferenceHostOptions {
  /** Where models/<id>.json and the files they name are. */
  modelsDir: string;
  /** Tried in order; the first that creates a session wins. Default cuda, webgpu, cpu. */
  providers?: readonly ExecutionProviderName[];
  /** ORT intra-op threads; default: all cores. */
  intraOpThreads?: number;
  /**
   * Share one session among the generators of one model and batch their frames (batch-runner.ts):
   * 'auto' when the provider is a GPU one, 'on' always, 'off' (default) never. Worker hosts only.
   */
  batchAcrossStreams?: 'auto' | 'on' | 'off';
  /** Frames per batched run. Default 8. */
  maxBatch?: number;
  /**
   * Which file of the manifest to load: 'auto' (default) the fp16 copy on GPU providers when the
   * manifest has one, 'fp16' wherever there is one (tests; the CPU gains nothing), 'fp32' never.
   */
  precision?: 'auto' | 'fp32' | 'fp16';
  /** Replaces ORT session creation (tests inject failing providers). Implies `worker: false`. */
  createSession?: SessionFactory;
  /**
   * Run each model's ORT session in its own worker thread (default true), so session
   * creation and session.run, both synchronous in onnxruntime-node, leave the event loop
   * free. Unavailable with `createSession`: a function cannot be handed to a worker.
   */
  worker?: boolean;
  logger?: StageLogger;
}

export interface InferenceHost extends Closable {
  /**
   * Validates the id and manifest, opens an ORT session with provider fallback and
   * checks the session's tensor names against the manifest. Throws ModelIdError,
   * ModelNotFoundError, ManifestError, ModelLoadError or ProviderUnavailableError.
   */
  loadModel(id: string): Promise<Generator>;
  /** ORT sessions opened by this host and not yet closed. */
  openSessions(): number;
  /** Timed generator runs (warm-ups excluded) over every generator this host ever opened. */
  modelRuns(): number;
}

function checkSession(session: SessionInfo, manifest: ModelManifest): void {
  const { input, output, id } = manifest;
  if (!session.inputNames.includes(input.name)) {
    throw new ModelLoadError(`model ${id}: manifest input ${JSON.stringify(input.name)} not among session inputs [${session.inputNames.join(', ')}]`);
  }
  if (!session.outputNames.includes(output.name)) {
    throw new ModelLoadError(`model ${id}: manifest output ${JSON.stringify(output.name)} not among session outputs [${session.outputNames.join(', ')}]`);
  }
  const meta = session.inputMetadata?.find((m) => m.name === input.name);
  if (meta && meta.isTensor) {
    const channels = meta.shape[1];
    if (meta.type !== 'float32' || meta.shape.length !== 4 || (typeof channels === 'number' && channels !== input.channels)) {
      throw new ModelLoadError(`model ${id}: input ${input.name} is ${meta.type}[${meta.shape.join(',')}], expected float32 NCHW with ${input.channels} channels`);
    }
  }
}

/** Throws a plain Error for settings no model could load with: config and callers check them first, so this is a bug. */
export function createInferenceHost(options: InferenceHostOptions): InferenceHost {
  if (options.worker && options.createSession) {
    throw new Error('inference host: an injected createSession cannot run in a worker; pass worker: false');
  }
  const useWorker = options.worker ?? !options.createSession;
  const createSession = options.createSession ?? createOrtSession;
  const intraOpThreads = options.intraOpThreads ?? availableParallelism();
  if (!Number.isInteger(intraOpThreads) || intraOpThreads < 1) {
    throw new Error(`intraOpThreads must be a positive integer, got ${intraOpThreads}`);
  }
  const settings = Object.freeze({
    modelsDir: options.modelsDir,
    providers: Object.freeze([...assertProviders(options.providers ?? DEFAULT_PROVIDERS)]),
    intraOpThreads,
    batching: useWorker ? (options.batchAcrossStreams ?? 'off') : 'off',
    maxBatch: options.maxBatch ?? 8,
    precision: options.precision ?? 'auto',
  });
  const logger = options.logger ?? silentLogger();
  const open = new Set<Generator>();
  let closed = false;
  let retiredRuns = 0;
  /** Batched sessions by model file; a promise while the first one opens. */
  const runners = new Map<string, Promise<BatchRunner | null>>();

  async function loadModel(modelId: string): Promise<Generator> {
    if (closed) throw new ClosedError('inference host is closed');
    const id = assertModelId(modelId);
    const { modelsDir, providers, precision, batching } = settings;
    const manifestPath = join(modelsDir, `${id}.json`);
    if (!(await exists(manifestPath))) throw new ModelNotFoundError(`model ${id} not found`);
    const manifest = await readManifest(manifestPath);
    if (manifest.id !== id) throw new ManifestError(`${manifestPath}: id ${JSON.stringify(manifest.id)} does not match ${JSON.stringify(id)}`);
    const modelPath = join(modelsDir, manifest.file);
    if (!(await exists(modelPath))) throw new ModelLoadError(`model ${id}: file ${manifest.file} is missing`);

    const halfPath = manifest.fp16 ? join(modelsDir, manifest.fp16.file) : null;
    const useHalf = halfPath !== null && precision !== 'fp32' && (await exists(halfPath));
    if (halfPath && precision !== 'fp32' && !useHalf) logger.warn({ model: id, file: manifest.fp16?.file }, 'fp16 file missing; using fp32');
    const modelPathFor = (provider: ExecutionProviderName) =>
      useHalf && (precision === 'fp16' || provider !== 'cpu') ? halfPath : modelPath;
    const fallback = { modelId: id, modelPath, modelPathFor, providers, intraOpThreads, logger };
    if (batching !== 'off') {
      const key = modelPath;
      const sharing = runners.get(key);
      if (sharing) {
        const runner = await sharing;
        if (runner && !runner.closed) return track((onClose) => runner.handle(onClose));
      }
      const opening = loadInWorker(manifest, fallback, { batching, maxBatch: settings.maxBatch, key });
      // A second stream of the same model waits for this one's session instead of opening its own.
      runners.set(key, opening.then((r) => r.runner, () => null));
      return (await opening).generator;
    }
    if (useWorker) return (await loadInWorker(manifest, fallback, null)).generator;

    const { session, provider } = await createSessionWithFallback({ ...fallback, createSession });
    try {
      checkSession(session, manifest);
    } catch (err) {
      await session.release().catch(() => undefined);
      throw err;
    }
    if (closed) {
      // The host closed while this session was being created; nobody will close it later.
      await session.release().catch(() => undefined);
      throw new ClosedError('inference host is closed');
    }
    return track((onClose) => createGenerator({ manifest, provider, session, onClose }));
  }

  /** Counts a generator as open until its onClose. */
  function track(make: (onClose: () => void) => Generator): Generator {
    const generator = make(() => {
      retiredRuns += generator.stats().runs;
      open.delete(generator);
    });
    open.add(generator);
    return generator;
  }

  async function loadInWorker(
    manifest: ModelManifest,
    fallback: Omit<Parameters<typeof createSessionWithFallback>[0], 'createSession'>,
    share: { batching: 'auto' | 'on'; maxBatch: number; key: string } | null,
  ): Promise<{ generator: Generator; runner: BatchRunner | null }> {
    const worker = new InferenceWorker();
    let provider: ExecutionProviderName;
    // A model exported with a fixed batch of 1 cannot take frames from several streams at once.
    let batchable = false;
    try {
      // Every provider is tried inside the worker, so the session that wins is already there.
      const opened = await createSessionWithFallback({
        ...fallback,
        createSession: (path, sessionOptions) => worker.createSession(path, sessionOptions),
      });
      provider = opened.provider;
      const meta = opened.session.inputMetadata?.find((m) => m.name === manifest.input.name);
      batchable = !!meta && meta.isTensor && typeof meta.shape[0] !== 'number';
      try {
        checkSession(opened.session, manifest);
      } catch (err) {
        await opened.session.release().catch(() => undefined);
        throw err;
      }
      // The host closed while this session was being created; nobody will close it later.
      if (closed) throw new ClosedError('inference host is closed');
    } catch (err) {
      if (!worker.stopped) await worker.release().catch(() => undefined);
      await worker.terminate();
      throw err;
    }
    if (share && !batchable) fallback.logger.warn({ model: manifest.id }, 'model has a fixed batch size; streams keep their own sessions');
    if (share && batchable && (share.batching === 'on' || provider !== 'cpu')) {
      const runner = new BatchRunner({
        manifest,
        provider,
        worker,
        maxBatch: share.maxBatch,
        onClose: () => {
          if (runners.get(share.key) === pending) runners.delete(share.key);
        },
      });
      const pending = Promise.resolve(runner);
      runners.set(share.key, pending);
      fallback.logger.info({ model: manifest.id, provider, maxBatch: share.maxBatch }, 'streams of this model share one batched session');
      return { generator: track((onClose) => runner.handle(onClose)), runner };
    }
    return { generator: track((onClose) => createWorkerGenerator({ manifest, provider, worker, onClose })), runner: null };
  }

  let closing: Promise<void> | null = null;
  function close(): Promise<void> {
    if (!closing) {
      closed = true;
      closing = Promise.all([...open].map((g) => g.close())).then(() => undefined);
    }
    return closing;
  }

  return {
    loadModel,
    openSessions: () => open.size,
    modelRuns: () => retiredRuns + [...open].reduce((sum, g) => sum + g.stats().runs, 0),
    close,
    [Symbol.asyncDispose]: close,
  };
}

export {
  MODEL_ID_PATTERN,
  assertModelId,
  manifestSchema,
  parseManifest,
  readManifest,
  type ModelManifest,
} from './manifest.js';
export {
  createInferenceHost,
  listModels,
  type InferenceHost,
  type InferenceHostOptions,
  type InvalidModel,
  type ModelListing,
} from './registry.js';
export type { Generator, GeneratorStats } from './generator-shell.js';
export {
  DEFAULT_PROVIDERS,
  EXECUTION_PROVIDERS,
  type ExecutionProviderName,
  type OrtSession,
  type SessionFactory,
} from './providers.js';
export type { StageLogger } from './logger.js';
export { defaultFileModel } from './defaults.js';

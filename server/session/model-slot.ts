/**
 * The generator a live session runs, and switching it: one switch at a time, the new model
 * loaded and warmed at the current size before it takes over, the old one closed only once the
 * frame it is running has finished.
 */
import type { Logger } from 'pino';
import type { Backend } from '../contract/index.js';
import { assertModelId, type Generator, type InferenceHost } from '../inference/index.js';
import { BadRequestError, ModelLoadError, asCycleStreamError, type CycleStreamError } from '../shared/errors.js';

export interface ModelSlotOptions {
  host: InferenceHost;
  /** True once the session is closing: a switch finishing then closes its new model instead. */
  closing: () => boolean;
  /** The size the next model will run at (0x0 before the first frame), to warm it up. */
  warmSize: (next: Generator) => { width: number; height: number };
  /** Called with the new model in place: the temporal stage must forget the old model's output. */
  onSwitched: (info: { modelId: string; backend: Backend }) => void;
  onLoadError: (err: CycleStreamError) => void;
  logger: Logger;
}

export class ModelSlot {
  #generator: Generator;
  #running: Promise<void> = Promise.resolve();
  #switching: Promise<unknown> = Promise.resolve();

  constructor(
    generator: Generator,
    private readonly opts: ModelSlotOptions,
  ) {
    this.#generator = generator;
  }

  get current(): Generator {
    return this.#generator;
  }

  /** The run in flight on the current model; the old model is closed after it. */
  track(run: Promise<unknown>): void {
    this.#running = run.then(
      () => {},
      () => {},
    );
  }

  switchTo(modelId: string): Promise<{ modelId: string; backend: Backend }> {
    assertModelId(modelId);
    const next = this.#switching.catch(() => {}).then(() => this.#switch(modelId));
    this.#switching = next;
    return next;
  }

  async #switch(modelId: string): Promise<{ modelId: string; backend: Backend }> {
    if (this.opts.closing()) throw new BadRequestError('session is closing');
    if (modelId === this.#generator.manifest.id) return { modelId, backend: this.#generator.provider };
    let gen: Generator;
    try {
      gen = await this.opts.host.loadModel(modelId);
    } catch (err) {
      throw this.#loadError(err);
    }
    const size = this.opts.warmSize(gen);
    if (size.width > 0) {
      try {
        await gen.warmup(size.width, size.height);
      } catch (err) {
        await gen.close();
        throw this.#loadError(err);
      }
    }
    if (this.opts.closing()) {
      await gen.close();
      throw new BadRequestError('session is closing');
    }
    const old = this.#generator;
    this.#generator = gen;
    void this.#running.then(() => old.close());
    const info = { modelId, backend: gen.provider };
    this.opts.onSwitched(info);
    this.opts.logger.info(info, 'model switched');
    return info;
  }

  #loadError(err: unknown): CycleStreamError {
    const e = asCycleStreamError(err, ModelLoadError);
    this.opts.onLoadError(e);
    return e;
  }

  /** Waits for a switch in progress, then closes the current model. */
  async close(): Promise<void> {
    await this.#switching.catch(() => {});
    await this.#generator.close();
  }
}

/**
 * Generators for offline work, kept warm between uses: loading a model opens an ORT session
 * in a worker (hundreds of ms for a real generator), which single images would otherwise pay
 * every time. A generator is used by one caller at a time; idle ones close after idleMs.
 */
import type { Generator, InferenceHost } from '../inference/index.js';
import { ClosedError } from '../shared/errors.js';

export interface GeneratorPoolOptions {
  host: InferenceHost;
  /** Idle generators close after this long. Default 30 s. */
  idleMs?: number;
}

interface Idle {
  generator: Generator;
  timer: NodeJS.Timeout;
}

export class GeneratorPool {
  readonly #opts: GeneratorPoolOptions;
  readonly #idle = new Map<string, Idle[]>();
  readonly #busy = new Set<Generator>();
  #closed = false;

  constructor(opts: GeneratorPoolOptions) {
    this.#opts = opts;
  }

  async acquire(modelId: string): Promise<Generator> {
    if (this.#closed) throw new ClosedError('generator pool is closed');
    const idle = this.#idle.get(modelId)?.pop();
    if (idle) {
      clearTimeout(idle.timer);
      this.#busy.add(idle.generator);
      return idle.generator;
    }
    const generator = await this.#opts.host.loadModel(modelId);
    if (this.#closed) {
      await generator.close();
      throw new ClosedError('generator pool is closed');
    }
    this.#busy.add(generator);
    return generator;
  }

  /** Hands a generator back; `broken` ones (a run failed inside ORT) are closed instead of reused. */
  async release(generator: Generator, broken = false): Promise<void> {
    this.#busy.delete(generator);
    if (this.#closed || broken) {
      await generator.close();
      return;
    }
    const id = generator.manifest.id;
    const list = this.#idle.get(id) ?? [];
    const entry: Idle = {
      generator,
      timer: setTimeout(() => {
        const at = list.indexOf(entry);
        if (at >= 0) list.splice(at, 1);
        void generator.close();
      }, this.#opts.idleMs ?? 30_000),
    };
    entry.timer.unref();
    list.push(entry);
    this.#idle.set(id, list);
  }

  /** Closes idle generators now (busy ones close when released). */
  async drain(): Promise<void> {
    const all = [...this.#idle.values()].flat();
    this.#idle.clear();
    for (const e of all) clearTimeout(e.timer);
    await Promise.all(all.map((e) => e.generator.close()));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.drain();
  }
}

/**
 * Batching across streams for one model (meant for GPU providers, where one batched run costs
 * little more than a single frame): every stream gets its own Generator handle, and the
 * handles share one ORT session in one inference worker. A frame submitted while the session
 * is idle runs at once, alone; frames submitted while a run is in flight wait and go together
 * in the next run (up to maxBatch, same size). So batching adds no delay when there is nothing
 * to batch, and under load each stream waits for at most one run.
 */
import type { RgbImage } from '../shared/image.js';
import { ClosedError } from '../shared/errors.js';
import { createGeneratorShell, type Generator } from './generator-shell.js';
import type { ModelManifest } from './manifest.js';
import type { ExecutionProviderName } from './providers.js';
import { frameBuffers, tensorBinding, type InferenceWorker, type WorkerFrameBuffers, type WorkerTensorBinding } from './worker-client.js';

export interface BatchRunnerParts {
  manifest: ModelManifest;
  provider: ExecutionProviderName;
  /** Holds the session provider fallback opened; the runner owns it from now on. */
  worker: InferenceWorker;
  maxBatch: number;
  /** Called once, after the last handle closed and the worker stopped. */
  onClose: () => void;
}

interface Queued {
  img: RgbImage;
  out: RgbImage;
  resolve: (r: { output: RgbImage; inferenceMs: number; batch: number }) => void;
  reject: (err: unknown) => void;
}

interface Shared {
  width: number;
  height: number;
  buffers: WorkerFrameBuffers;
  input: Uint8Array;
  output: Uint8Array;
  /** The worker has these buffers. */
  sent: boolean;
}

export class BatchRunner {
  readonly #parts: BatchRunnerParts;
  readonly #binding: WorkerTensorBinding;
  #bindingSent = false;
  #queue: Queued[] = [];
  #draining: Promise<void> | null = null;
  #shared: Shared | null = null;
  #handles = 0;
  #closing: Promise<void> | null = null;

  constructor(parts: BatchRunnerParts) {
    this.#parts = parts;
    this.#binding = tensorBinding(parts.manifest);
  }

  get provider(): ExecutionProviderName {
    return this.#parts.provider;
  }

  /** True once the last handle has closed; a closed runner hands out no more handles. */
  get closed(): boolean {
    return this.#closing !== null;
  }

  /** A Generator for one stream. Closing it closes the runner once no other handle is open. */
  handle(onClose: () => void): Generator {
    if (this.#closing) throw new ClosedError(`batch runner for ${this.#parts.manifest.id} is closed`);
    this.#handles++;
    let own: RgbImage | null = null;
    return createGeneratorShell({
      manifest: this.#parts.manifest,
      provider: this.#parts.provider,
      thread: 'worker',
      infer: (img) => {
        if (!own || own.width !== img.width || own.height !== img.height) {
          own = { width: img.width, height: img.height, data: new Uint8Array(img.data.length) };
        }
        const out = own;
        return new Promise((resolve, reject) => {
          this.#queue.push({ img, out, resolve, reject });
          this.#draining ??= this.#drain().finally(() => {
            this.#draining = null;
          });
        });
      },
      size: () => ({ width: own?.width ?? 0, height: own?.height ?? 0 }),
      release: async () => {
        own = null;
        this.#handles--;
        if (this.#handles === 0) await this.#close();
      },
      onClose,
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const { width, height } = this.#queue[0]!.img;
      const batch: Queued[] = [];
      const rest: Queued[] = [];
      for (const q of this.#queue) {
        if (batch.length < this.#parts.maxBatch && q.img.width === width && q.img.height === height) batch.push(q);
        else rest.push(q);
      }
      this.#queue = rest;
      try {
        const s = this.#sharedFor(width, height);
        const n = 3 * width * height;
        batch.forEach((q, k) => s.input.set(q.img.data, k * n));
        const inferenceMs = await this.#parts.worker.run(
          width,
          height,
          s.sent ? undefined : s.buffers,
          this.#bindingSent ? undefined : this.#binding,
          batch.length,
        );
        s.sent = true;
        this.#bindingSent = true;
        batch.forEach((q, k) => {
          // The next run overwrites the shared output: every stream gets its own copy.
          q.out.data.set(s.output.subarray(k * n, (k + 1) * n));
          q.resolve({ output: q.out, inferenceMs, batch: batch.length });
        });
      } catch (err) {
        for (const q of batch) q.reject(err);
      }
    }
  }

  #sharedFor(width: number, height: number): Shared {
    const s = this.#shared;
    if (s && s.width === width && s.height === height) return s;
    const bytes = 3 * width * height * this.#parts.maxBatch;
    const buffers = frameBuffers(s?.buffers, bytes);
    this.#shared = {
      width,
      height,
      buffers,
      input: new Uint8Array(buffers.input),
      output: new Uint8Array(buffers.output),
      // The worker keeps views per size, so a new size always sends the buffers again.
      sent: false,
    };
    return this.#shared;
  }

  #close(): Promise<void> {
    this.#closing ??= (async () => {
      // Handles wait for their own run before release, so nothing is queued by now.
      await this.#draining;
      this.#shared = null;
      try {
        if (!this.#parts.worker.stopped) await this.#parts.worker.release();
      } finally {
        await this.#parts.worker.terminate();
        this.#parts.onClose();
      }
    })();
    return this.#closing;
  }
}

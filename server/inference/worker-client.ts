/**
 * Main-thread handle on one inference worker (inference-worker.mjs): a small request/reply
 * protocol over postMessage. Each worker holds at most one ORT session, so provider
 * fallback (providers.ts) tries each provider in the same worker in turn, and the session
 * that wins stays there.
 */
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { InferenceError } from '../shared/errors.js';
import type { ModelManifest } from './manifest.js';
import type { SessionInfo } from './providers.js';

export interface WorkerFrameBuffers {
  /** Packed RGB in, 3 * width * height bytes per frame of the largest batch at least. */
  readonly input: SharedArrayBuffer;
  /** Packed RGB out, same size. */
  readonly output: SharedArrayBuffer;
}

export interface WorkerTensorBinding {
  readonly inputName: string;
  readonly outputName: string;
  readonly inLo: number;
  readonly inHi: number;
  readonly outLo: number;
  readonly outHi: number;
}

/** The manifest's tensor names and value ranges, as the worker needs them. */
export function tensorBinding(manifest: Pick<ModelManifest, 'input' | 'output'>): WorkerTensorBinding {
  return {
    inputName: manifest.input.name,
    outputName: manifest.output.name,
    inLo: manifest.input.range[0],
    inHi: manifest.input.range[1],
    outLo: manifest.output.range[0],
    outHi: manifest.output.range[1],
  };
}

/** Frame buffers of at least `bytes` each: `current` when big enough (grow-only, never per frame). */
export function frameBuffers(current: WorkerFrameBuffers | undefined, bytes: number): WorkerFrameBuffers {
  if (current && current.input.byteLength >= bytes) return current;
  return { input: new SharedArrayBuffer(bytes), output: new SharedArrayBuffer(bytes) };
}

type Request =
  | { op: 'create'; modelPath: string; options: ort.InferenceSession.SessionOptions }
  | ({ op: 'run'; width: number; height: number; batch: number; binding?: WorkerTensorBinding } & Partial<WorkerFrameBuffers>)
  | { op: 'release' };

interface Reply {
  id: number;
  ok: boolean;
  error?: { name: string; message: string };
  inferenceMs?: number;
  inputNames?: string[];
  outputNames?: string[];
  inputMetadata?: ort.InferenceSession.ValueMetadata[];
}

interface Waiter {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  /** Resolves (never rejects) once the request is answered or abandoned. */
  settled: Promise<void>;
}

export class InferenceWorker {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiter>();
  #nextId = 1;
  #stopped: Error | null = null;
  #terminating: Promise<void> | null = null;

  constructor() {
    // No inherited flags: the worker is plain JS and needs none, tsx's loader would only add
    // ~0.4 s to its start, and V8 or process-wide flags in an explicit list make Worker throw.
    this.#worker = new Worker(new URL('./inference-worker.mjs', import.meta.url), { execArgv: [] });
    // An idle worker must not keep the process alive (an in-process session does not either);
    // it is referenced only while a request is outstanding.
    this.#worker.unref();
    this.#worker.on('message', (reply: Reply) => this.#onReply(reply));
    this.#worker.on('error', (err) => this.#stop(err));
    this.#worker.on('messageerror', (err) => this.#stop(err));
    this.#worker.on('exit', (code) => this.#stop(new Error(`inference worker exited with code ${code}`)));
  }

  /** Why the worker can take no more requests (crashed or terminated), or null. */
  get stopped(): Error | null {
    return this.#stopped;
  }

  #onReply(reply: Reply): void {
    const waiter = this.#waiting.get(reply.id);
    if (!waiter) return;
    this.#waiting.delete(reply.id);
    if (this.#waiting.size === 0) this.#worker.unref();
    if (reply.ok) waiter.resolve(reply);
    else {
      const err = new Error(reply.error?.message ?? 'inference worker request failed');
      if (reply.error?.name) err.name = reply.error.name;
      waiter.reject(err);
    }
  }

  #stop(err: Error): void {
    if (!this.#stopped) this.#stopped = new Error(`inference worker stopped: ${err.message}`, { cause: err });
    const waiters = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiters) w.reject(this.#stopped);
  }

  #request(req: Request): Promise<Reply> {
    if (this.#stopped) return Promise.reject(this.#stopped);
    const id = this.#nextId++;
    let waiter!: Waiter;
    const reply = new Promise<Reply>((resolve, reject) => {
      waiter = { resolve, reject, settled: Promise.resolve() };
    });
    waiter.settled = reply.then(
      () => undefined,
      () => undefined,
    );
    this.#waiting.set(id, waiter);
    if (this.#waiting.size === 1) this.#worker.ref();
    this.#worker.postMessage({ id, ...req });
    return reply;
  }

  /** Opens an ORT session inside the worker with exactly the given options; a SessionFactory. */
  async createSession(modelPath: string, options: ort.InferenceSession.SessionOptions): Promise<SessionInfo> {
    const r = await this.#request({ op: 'create', modelPath, options });
    return {
      inputNames: r.inputNames ?? [],
      outputNames: r.outputNames ?? [],
      inputMetadata: r.inputMetadata,
      release: () => this.release(),
    };
  }

  /**
   * Runs the session on the RGB frame(s) in the shared input buffer and leaves the RGB results
   * in the shared output buffer: `batch` frames back to back, as one batch. `buffers` (and
   * `binding`, the first time) go along only when they change. Resolves to session.run's own time in ms.
   */
  async run(
    width: number,
    height: number,
    buffers?: WorkerFrameBuffers,
    binding?: WorkerTensorBinding,
    batch = 1,
  ): Promise<number> {
    try {
      const r = await this.#request({ op: 'run', width, height, batch, ...buffers, binding });
      return r.inferenceMs ?? 0;
    } catch (err) {
      throw new InferenceError((err as Error).message, { cause: err });
    }
  }

  /** Releases the worker's session (if any); the worker stays up. */
  async release(): Promise<void> {
    await this.#request({ op: 'release' });
  }

  /**
   * Stops the thread once the requests in flight have been answered: terminating a worker
   * inside session.run aborts the whole process (onnxruntime-node 1.30 throws from native
   * code on a dying thread). Idempotent.
   */
  terminate(): Promise<void> {
    if (!this.#terminating) {
      const inFlight = [...this.#waiting.values()].map((w) => w.settled);
      this.#terminating = Promise.all(inFlight).then(async () => {
        this.#stop(new Error('terminated'));
        await this.#worker.terminate();
      });
    }
    return this.#terminating;
  }
}

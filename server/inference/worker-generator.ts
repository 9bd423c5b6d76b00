/**
 * A Generator whose ORT session lives in an inference worker thread, so a 30-60 ms (or, for
 * ResNet-9, multi-second) session.run no longer stalls RTP, encoding and signaling on the
 * main thread. Same contract as the in-process generator (generator.ts): one run at a time,
 * the returned image is owned by the generator and overwritten by the next run.
 *
 * Per frame the main thread copies the packed RGB input into a SharedArrayBuffer and posts
 * one small message; the worker converts to NCHW floats, runs, converts back into the shared
 * output buffer and replies. The shared buffers are allocated when the size first grows past
 * them, never per frame.
 */
import type { RgbImage } from '../shared/image.js';
import { createGeneratorShell, type Generator } from './generator-shell.js';
import type { ModelManifest } from './manifest.js';
import type { ExecutionProviderName } from './providers.js';
import { frameBuffers, tensorBinding, type InferenceWorker, type WorkerFrameBuffers } from './worker-client.js';

export interface WorkerGeneratorParts {
  manifest: ModelManifest;
  provider: ExecutionProviderName;
  /** Holds the session that provider fallback opened; the generator owns it from now on. */
  worker: InferenceWorker;
  /** Called once after the session is released and the worker stopped. */
  onClose: () => void;
}

interface Shared {
  width: number;
  height: number;
  buffers: WorkerFrameBuffers;
  input: Uint8Array;
  /** Its data is a view of the shared output buffer. */
  output: RgbImage;
  /** The worker has these buffers at this size. */
  sent: boolean;
}

export function createWorkerGenerator(parts: WorkerGeneratorParts): Generator {
  const { manifest, worker } = parts;
  const binding = tensorBinding(manifest);
  let bindingSent = false;
  let shared: Shared | null = null;

  function sharedFor(width: number, height: number): Shared {
    if (shared && shared.width === width && shared.height === height) return shared;
    const n = 3 * width * height;
    // A smaller size reuses the buffers through shorter views.
    const buffers = frameBuffers(shared?.buffers, n);
    shared = {
      width,
      height,
      buffers,
      input: new Uint8Array(buffers.input, 0, n),
      output: { width, height, data: new Uint8Array(buffers.output, 0, n) },
      sent: false,
    };
    return shared;
  }

  return createGeneratorShell({
    manifest,
    provider: parts.provider,
    thread: 'worker',
    async infer(img) {
      const s = sharedFor(img.width, img.height);
      s.input.set(img.data);
      const inferenceMs = await worker.run(s.width, s.height, s.sent ? undefined : s.buffers, bindingSent ? undefined : binding);
      s.sent = true;
      bindingSent = true;
      return { output: s.output, inferenceMs };
    },
    size: () => ({ width: shared?.width ?? 0, height: shared?.height ?? 0 }),
    async release() {
      shared = null;
      try {
        if (!worker.stopped) await worker.release();
      } finally {
        await worker.terminate();
      }
    },
    onClose: parts.onClose,
  });
}

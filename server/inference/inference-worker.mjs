/**
 * Worker-thread side of the worker generator (worker-client.ts, worker-generator.ts): owns
 * one ONNX Runtime session so that session creation and session.run, which onnxruntime-node
 * performs synchronously on the calling thread, never block the server's event loop.
 *
 * Plain JavaScript on purpose: tsx's loader hooks do not reach worker threads on Node 20,
 * and registering tsx inside every worker would add about 0.4 s to each model load.
 *
 * Requests arrive as `{ id, op, ... }` and are handled strictly one after another; every
 * request gets exactly one reply `{ id, ok: true, ... }` or `{ id, ok: false, error }`.
 * Frames travel through two SharedArrayBuffers owned by the main thread (packed RGB in,
 * packed RGB out; a batch of frames back to back); the float tensors are this thread's and are
 * reused while the size and batch size hold.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { inputLut, nchwToRgb, rgbToNchw } from './tensor-kernels.mjs';

if (!parentPort) throw new Error('inference-worker.mjs must run in a worker thread');
const port = parentPort;

let session = null;
/** Names and ranges of the model's tensors, sent with the first buffers. */
let binding = null;
/** Per-size state: views over the shared RGB buffers, float tensors. */
let frame = null;
let queue = Promise.resolve();

port.on('message', (msg) => {
  queue = queue.then(() => handle(msg));
});

async function handle(msg) {
  let reply;
  try {
    reply = { id: msg.id, ok: true, ...(await dispatch(msg)) };
  } catch (err) {
    const error = err instanceof Error ? { name: err.name, message: err.message } : { name: 'Error', message: String(err) };
    reply = { id: msg.id, ok: false, error };
  }
  port.postMessage(reply);
}

async function dispatch(msg) {
  switch (msg.op) {
    case 'create':
      return create(msg.modelPath, msg.options);
    case 'run':
      return run(msg);
    case 'release':
      return release();
    default:
      throw new Error(`inference worker: unknown op ${JSON.stringify(msg.op)}`);
  }
}

async function create(modelPath, options) {
  if (session) throw new Error('inference worker already holds a session');
  const s = await ort.InferenceSession.create(modelPath, options);
  session = s;
  return {
    inputNames: [...s.inputNames],
    outputNames: [...s.outputNames],
    // ORT's metadata objects are plain data, but copy the fields we know so nothing odd is cloned.
    inputMetadata: s.inputMetadata.map((m) =>
      m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false },
    ),
  };
}

function setFrame(msg) {
  const { width, height, input, output } = msg;
  const pixels = width * height;
  frame = {
    width,
    height,
    pixels,
    // Frame k of a batch sits at byte 3 * pixels * k of both buffers.
    inRgb: new Uint8Array(input),
    outRgb: new Uint8Array(output),
    /** Float tensors per batch size, made on first use and reused. */
    tensors: new Map(),
  };
}

function tensorsFor(f, batch) {
  let t = f.tensors.get(batch);
  if (!t) {
    const n = 3 * f.pixels * batch;
    const dims = [batch, 3, f.height, f.width];
    const inFloats = new Float32Array(n);
    const outFloats = new Float32Array(n);
    // The tensors wrap the arrays: ORT reads inFloats and writes outFloats in place each run.
    t = { inFloats, outFloats, inputTensor: new ort.Tensor('float32', inFloats, dims), outputTensor: new ort.Tensor('float32', outFloats, dims) };
    f.tensors.set(batch, t);
  }
  return t;
}

async function run(msg) {
  if (!session) throw new Error('inference worker has no session');
  if (msg.binding) {
    const b = msg.binding;
    binding = { inputName: b.inputName, outputName: b.outputName, lut: inputLut(b.inLo, b.inHi), outLo: b.outLo, outHi: b.outHi };
  }
  if (msg.input) setFrame(msg);
  if (!binding || !frame || frame.width !== msg.width || frame.height !== msg.height) {
    throw new Error(`inference worker: no buffers for ${msg.width}x${msg.height}`);
  }
  const f = frame;
  const batch = msg.batch ?? 1;
  const n = 3 * f.pixels;
  if (f.inRgb.length < n * batch) throw new Error(`inference worker: buffers hold fewer than ${batch} frames of ${msg.width}x${msg.height}`);
  const t = tensorsFor(f, batch);
  const { inputName, outputName } = binding;
  for (let k = 0; k < batch; k++) {
    rgbToNchw(f.inRgb.subarray(k * n, (k + 1) * n), t.inFloats.subarray(k * n, (k + 1) * n), f.pixels, binding.lut);
  }
  const t0 = performance.now();
  const result = await session.run({ [inputName]: t.inputTensor }, { [outputName]: t.outputTensor });
  const inferenceMs = performance.now() - t0;
  // onnxruntime-node writes the pre-allocated output in place and also returns a copy;
  // the returned tensor is authoritative should a provider ever skip the in-place write.
  const out = result[outputName];
  const data = out && out.data instanceof Float32Array && out.data.length === t.outFloats.length ? out.data : t.outFloats;
  for (let k = 0; k < batch; k++) {
    nchwToRgb(data.subarray(k * n, (k + 1) * n), f.outRgb.subarray(k * n, (k + 1) * n), f.pixels, binding.outLo, binding.outHi);
  }
  return { inferenceMs };
}

async function release() {
  frame = null;
  binding = null;
  const s = session;
  session = null;
  if (s) await s.release();
  return {};
}

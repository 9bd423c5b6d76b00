#!/usr/bin/env node
/**
 * Runs one ONNX model once on the CPU with onnxruntime-node, for training/export.py's parity check
 * where Python's onnxruntime is not installed.
 *
 *   node scripts/ort-run.mjs <model.onnx> <input.f32> <N,C,H,W> <output.f32> [--threads 2]
 *
 * The input file holds raw little-endian float32 values of the given shape, fed to the model's first
 * input; the model's first output is written the same way. Prints one JSON line:
 * {"input":"name","output":"name","shape":[...],"ms":12.3}. Exit 1 with a message on any error.
 */
import { readFile, writeFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';

function usage(msg) {
  console.error(`${msg}\nusage: node scripts/ort-run.mjs <model.onnx> <input.f32> <N,C,H,W> <output.f32> [--threads N]`);
  process.exit(2);
}

const args = process.argv.slice(2);
let threads = 1;
const ti = args.indexOf('--threads');
if (ti >= 0) {
  threads = Number(args[ti + 1]);
  args.splice(ti, 2);
}
if (args.length !== 4) usage('expected 4 positional arguments');
const [modelPath, inputPath, shapeText, outputPath] = args;
const dims = shapeText.split(',').map(Number);
if (dims.some((d) => !Number.isInteger(d) || d <= 0)) usage(`bad shape ${shapeText}`);

try {
  const bytes = await readFile(inputPath);
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== count * 4) {
    throw new Error(`${inputPath} holds ${bytes.byteLength} bytes, shape ${dims} needs ${count * 4}`);
  }
  // copy into an aligned buffer: a Buffer's byteOffset need not be a multiple of 4
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(bytes);
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    graphOptimizationLevel: 'all',
  });
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const t0 = performance.now();
  const result = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) });
  const ms = performance.now() - t0;
  const out = result[outputName];
  if (out.type !== 'float32') throw new Error(`output ${outputName} is ${out.type}, expected float32`);
  await writeFile(outputPath, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  console.log(JSON.stringify({ input: inputName, output: outputName, shape: out.dims, ms: Math.round(ms * 10) / 10 }));
  await session.release();
} catch (err) {
  console.error(`ort-run: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

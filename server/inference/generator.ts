import * as ort from 'onnxruntime-node';
import type { RgbImage } from '../shared/image.js';
import type { ModelManifest } from './manifest.js';
import type { ExecutionProviderName, OrtSession } from './providers.js';
import { inputLut, nchwToRgb, rgbToNchw } from './tensor.js';
import { createGeneratorShell, type Generator } from './generator-shell.js';

interface Buffers {
  width: number;
  height: number;
  input: Float32Array;
  output: Float32Array;
  inputTensor: ort.Tensor;
  outputTensor: ort.Tensor;
  rgb: RgbImage;
}

export interface GeneratorParts {
  manifest: ModelManifest;
  provider: ExecutionProviderName;
  session: OrtSession;
  /** Called once after the session is released. */
  onClose: () => void;
}

export function createGenerator(parts: GeneratorParts): Generator {
  const { manifest, session } = parts;
  const inputName = manifest.input.name;
  const outputName = manifest.output.name;
  const lut = inputLut(manifest.input.range[0], manifest.input.range[1]);
  const [outLo, outHi] = manifest.output.range;
  let buffers: Buffers | null = null;

  function buffersFor(width: number, height: number): Buffers {
    if (buffers && buffers.width === width && buffers.height === height) return buffers;
    const n = 3 * width * height;
    const input = new Float32Array(n);
    const output = new Float32Array(n);
    const dims = [1, 3, height, width];
    buffers = {
      width,
      height,
      input,
      output,
      // Tensors wrap the arrays; ORT reads `input` and writes `output` in place on each run.
      inputTensor: new ort.Tensor('float32', input, dims),
      outputTensor: new ort.Tensor('float32', output, dims),
      rgb: { width, height, data: new Uint8Array(n) },
    };
    return buffers;
  }

  return createGeneratorShell({
    manifest,
    provider: parts.provider,
    thread: 'main',
    async infer(img) {
      const b = buffersFor(img.width, img.height);
      const pixels = img.width * img.height;
      rgbToNchw(img.data, b.input, pixels, lut);
      const t0 = performance.now();
      const result = await session.run({ [inputName]: b.inputTensor }, { [outputName]: b.outputTensor });
      const inferenceMs = performance.now() - t0;
      // onnxruntime-node writes the pre-allocated output in place but also returns a
      // fresh copy of it; the returned tensor is authoritative should a provider ever
      // skip the in-place write.
      const out = result[outputName];
      const data = out && 'data' in out ? (out as ort.Tensor).data : null;
      const src = data instanceof Float32Array && data.length === b.output.length ? data : b.output;
      nchwToRgb(src, b.rgb.data, pixels, outLo, outHi);
      return { output: b.rgb, inferenceMs };
    },
    size: () => ({ width: buffers?.width ?? 0, height: buffers?.height ?? 0 }),
    async release() {
      buffers = null;
      await session.release();
    },
    onClose: parts.onClose,
  });
}

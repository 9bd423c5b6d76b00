import * as ort from 'onnxruntime-node';
import { InferenceError } from '../shared/errors.js';
import type { Closable, RgbImage } from '../shared/image.js';
import type { ModelManifest } from './manifest.js';
import type { ExecutionProviderName, OrtSession } from './providers.js';
import { inputLut, nchwToRgb, rgbToNchw } from './tensor.js';
import { createGeneratorShell } from './generator-shell.js';

export interface GeneratorStats {
  readonly provider: ExecutionProviderName;
  /** Where session.run executes: an inference worker thread, or the caller's (main) thread. */
  readonly thread: 'worker' | 'main';
  readonly runs: number;
  readonly warmups: number;
  /** ORT session.run time of the last run. */
  readonly lastInferenceMs: number;
  readonly avgInferenceMs: number;
  /** Last run including the RGB <-> tensor conversions. */
  readonly lastRunMs: number;
  /** Frames the last run's session.run carried: above 1 when streams of one model were batched. */
  readonly lastBatch: number;
  /** Size the buffers are currently set up for (0 before the first run). */
  readonly width: number;
  readonly height: number;
}

export interface Generator extends Closable {
  readonly manifest: ModelManifest;
  readonly provider: ExecutionProviderName;
  /**
   * Translates one image; the result has the same size. Width and height must be
   * multiples of manifest.input.sizeMultiple. The returned image is owned by the
   * generator and overwritten by the next run, so consume or copy it first.
   * Not re-entrant: one run at a time (LatestFrameScheduler guarantees that).
   */
  run(img: RgbImage): Promise<RgbImage>;
  /** One untimed run at the size about to be served; ORT's first run at a new size is slow. */
  warmup(width: number, height: number): Promise<void>;
  stats(): GeneratorStats;
}

interface Buffers {
  width: number;
  height: number;
  input: Float32Array;
  output: Float32Array;
  inputTensor: ort.Tensor;
  outputTensor: ort.Tensor;
  rgb: RgbImage;
}

/** Throws InferenceError unless `img` is a well-formed RGB image of a size the model takes. */
export function validateImage(manifest: ModelManifest, img: RgbImage): void {
  const { width, height } = img;
  const multiple = manifest.input.sizeMultiple;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new InferenceError(`${manifest.id}: invalid image size ${width}x${height}`);
  }
  if (width % multiple !== 0 || height % multiple !== 0) {
    throw new InferenceError(
      `${manifest.id}: image ${width}x${height} is not a multiple of ${multiple}; scale it to a multiple first (processingSize)`,
    );
  }
  if (img.data.length !== width * height * 3) {
    throw new InferenceError(`${manifest.id}: ${width}x${height} RGB image has ${img.data.length} bytes, expected ${width * height * 3}`);
  }
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

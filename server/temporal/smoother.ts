import type { RgbImage } from '../shared/image.js';

export interface TemporalSmootherOptions {
  /** 0 = off (output passes through untouched), 1 = static regions never update. */
  strength: number;
  /**
   * Mean absolute luma change per pixel of a block, in 8-bit levels, at which blending
   * stops entirely. Below it, blending fades in linearly. Default 12: camera noise
   * (1-3 levels) still counts as static, real motion does not.
   */
  motionThresholdLevels?: number;
  /** Side of the square blocks motion is measured on (even). Default 8. */
  blockSizePx?: number;
}

export interface TemporalSmootherStats {
  readonly frames: number;
  /** Times history was dropped: size changes, strength 0, explicit reset(). */
  readonly resets: number;
  readonly strength: number;
  /** Mean blend weight (0..strength) over the blocks of the last frame. */
  readonly meanBlendWeight: number;
  /** Fraction of blocks in the last frame whose input change was under a quarter of the threshold. */
  readonly staticFraction: number;
}

export interface TemporalSmoother {
  /**
   * `input` is the frame the model saw, `output` what it produced (same size). Returns
   * the smoothed output: a buffer owned by the smoother and overwritten by the next
   * call, or `output` itself when strength is 0.
   */
  process(input: RgbImage, output: RgbImage): RgbImage;
  setStrength(strength: number): void;
  reset(): void;
  stats(): TemporalSmootherStats;
}

interface State {
  width: number;
  height: number;
  blocksX: number;
  blocksY: number;
  prevLuma: Uint8Array;
  curLuma: Uint8Array;
  smoothed: RgbImage;
  /** Summed |luma change| per half-block quadrant. */
  quadrant: Float32Array;
  motion: Float32Array;
  alpha: Float32Array;
  /** Per image column/row: lower block index and the weight of the next block, for bilinear alpha. */
  colBlock: Int32Array;
  colWeight: Float32Array;
  rowBlock: Int32Array;
  rowWeight: Float32Array;
  rowAlpha: Float32Array;
}

/** Clients' values are checked at the boundary (zod); reaching this with a bad one is a bug, so a plain Error. */
function assertStrength(strength: unknown): number {
  if (typeof strength !== 'number' || !Number.isFinite(strength) || strength < 0 || strength > 1) {
    throw new Error(`temporal smoothing strength must be a number in [0, 1], got ${JSON.stringify(strength)}`);
  }
  return strength;
}

/** Index of the block whose centre is at or left of each pixel, and the weight of the block after it. */
function interpolationAxis(size: number, block: number, blocks: number): { index: Int32Array; weight: Float32Array } {
  const index = new Int32Array(size);
  const weight = new Float32Array(size);
  for (let p = 0; p < size; p++) {
    const f = (p + 0.5) / block - 0.5;
    let i = Math.floor(f);
    let w = f - i;
    if (i < 0) {
      i = 0;
      w = 0;
    } else if (i >= blocks - 1) {
      i = blocks - 1;
      w = 0;
    }
    index[p] = i;
    weight[p] = w;
  }
  return { index, weight };
}

export function createTemporalSmoother(options: TemporalSmootherOptions): TemporalSmoother {
  let strength = assertStrength(options.strength);
  const thresholdLevels = options.motionThresholdLevels ?? 12;
  const block = options.blockSizePx ?? 8;
  if (!(thresholdLevels > 0)) throw new Error(`motionThresholdLevels must be > 0, got ${thresholdLevels}`);
  if (!Number.isInteger(block) || block < 2 || block % 2) throw new Error(`blockSizePx must be an even integer >= 2, got ${block}`);

  let state: State | null = null;
  let hasPrev = false;
  let frames = 0;
  let resets = 0;
  let meanBlendWeight = 0;
  let staticFraction = 0;

  function stateFor(width: number, height: number): State {
    if (state && state.width === width && state.height === height) return state;
    if (state) resets++;
    hasPrev = false;
    const blocksX = Math.ceil(width / block);
    const blocksY = Math.ceil(height / block);
    const cols = interpolationAxis(width, block, blocksX);
    const rows = interpolationAxis(height, block, blocksY);
    state = {
      width,
      height,
      blocksX,
      blocksY,
      prevLuma: new Uint8Array(width * height),
      curLuma: new Uint8Array(width * height),
      smoothed: { width, height, data: new Uint8Array(width * height * 3) },
      quadrant: new Float32Array(blocksX * 2 * blocksY * 2),
      motion: new Float32Array(blocksX * blocksY),
      alpha: new Float32Array(blocksX * blocksY),
      colBlock: cols.index,
      colWeight: cols.weight,
      rowBlock: rows.index,
      rowWeight: rows.weight,
      rowAlpha: new Float32Array(blocksX),
    };
    return state;
  }

  function luma(rgb: Uint8Array, out: Uint8Array): void {
    for (let i = 0, j = 0; i < out.length; i++, j += 3) {
      out[i] = (77 * rgb[j] + 150 * rgb[j + 1] + 29 * rgb[j + 2]) >> 8;
    }
  }

  /**
   * Per block: the largest mean |luma change| among its four quadrants, normalised to
   * 0..1. Quadrants rather than the whole block, so an edge that enters a block with
   * only a few pixels still counts as motion there instead of being averaged away.
   */
  function blockMotion(s: State): void {
    const { width, height, blocksX, blocksY, prevLuma, curLuma, quadrant, motion } = s;
    const half = block / 2;
    const qx = blocksX * 2;
    quadrant.fill(0);
    for (let y = 0; y < height; y++) {
      const rowBase = ((y / half) | 0) * qx;
      for (let x = 0, i = y * width; x < width; x++, i++) {
        const d = curLuma[i] - prevLuma[i];
        quadrant[rowBase + ((x / half) | 0)] += d < 0 ? -d : d;
      }
    }
    for (let by = 0; by < blocksY; by++) {
      for (let bx = 0; bx < blocksX; bx++) {
        let m = 0;
        for (let sy = 0; sy < 2; sy++) {
          const y0 = by * block + sy * half;
          const h = Math.min(half, height - y0);
          if (h <= 0) continue;
          for (let sx = 0; sx < 2; sx++) {
            const x0 = bx * block + sx * half;
            const w = Math.min(half, width - x0);
            if (w <= 0) continue;
            const v = quadrant[(by * 2 + sy) * qx + bx * 2 + sx] / (w * h);
            if (v > m) m = v;
          }
        }
        motion[by * blocksX + bx] = m / 255;
      }
    }
  }

  function blockAlpha(s: State): void {
    const { motion, alpha } = s;
    const threshold = thresholdLevels / 255;
    let sum = 0;
    let still = 0;
    for (let k = 0; k < motion.length; k++) {
      const m = motion[k];
      const a = strength * (1 - Math.min(1, m / threshold));
      alpha[k] = a;
      sum += a;
      if (m < threshold / 4) still++;
    }
    meanBlendWeight = sum / motion.length;
    staticFraction = still / motion.length;
  }

  /** smoothed = a * previous smoothed + (1 - a) * output, with a interpolated between block centres. */
  function blend(s: State, output: Uint8Array): void {
    const { width, height, blocksX, alpha, colBlock, colWeight, rowBlock, rowWeight, rowAlpha } = s;
    const out = s.smoothed.data;
    for (let y = 0; y < height; y++) {
      const r0 = rowBlock[y] * blocksX;
      const r1 = Math.min(rowBlock[y] + 1, s.blocksY - 1) * blocksX;
      const wy = rowWeight[y];
      const ownRow = ((y / block) | 0) * blocksX;
      for (let bx = 0; bx < blocksX; bx++) rowAlpha[bx] = alpha[r0 + bx] + (alpha[r1 + bx] - alpha[r0 + bx]) * wy;
      for (let x = 0, j = y * width * 3; x < width; x++, j += 3) {
        const c0 = colBlock[x];
        const c1 = c0 + 1 < blocksX ? c0 + 1 : c0;
        const interpolated = rowAlpha[c0] + (rowAlpha[c1] - rowAlpha[c0]) * colWeight[x];
        // Never more than the pixel's own block allows: the smooth ramp between blocks
        // then lies on the static side, and a moving block's edge pixels cannot ghost.
        const own = alpha[ownRow + ((x / block) | 0)];
        const a = interpolated < own ? interpolated : own;
        // Fixed-point weight; 0 means "take the output as is".
        const a256 = (a * 256 + 0.5) | 0;
        if (a256 === 0) {
          out[j] = output[j];
          out[j + 1] = output[j + 1];
          out[j + 2] = output[j + 2];
        } else {
          out[j] = output[j] + (((out[j] - output[j]) * a256 + 128) >> 8);
          out[j + 1] = output[j + 1] + (((out[j + 1] - output[j + 1]) * a256 + 128) >> 8);
          out[j + 2] = output[j + 2] + (((out[j + 2] - output[j + 2]) * a256 + 128) >> 8);
        }
      }
    }
  }

  function process(input: RgbImage, output: RgbImage): RgbImage {
    const { width, height } = output;
    if (input.width !== width || input.height !== height) {
      throw new Error(`temporal: input ${input.width}x${input.height} and output ${width}x${height} differ`);
    }
    if (input.data.length !== width * height * 3 || output.data.length !== width * height * 3) {
      throw new Error(`temporal: ${width}x${height} RGB buffers must hold ${width * height * 3} bytes`);
    }
    frames++;
    if (strength === 0) {
      // Off: pass through bit-exact, and forget history so re-enabling starts clean.
      if (hasPrev) resets++;
      hasPrev = false;
      meanBlendWeight = 0;
      staticFraction = 0;
      return output;
    }
    const s = stateFor(width, height);
    luma(input.data, s.curLuma);
    if (!hasPrev) {
      s.smoothed.data.set(output.data);
      meanBlendWeight = 0;
      staticFraction = 0;
    } else {
      blockMotion(s);
      blockAlpha(s);
      blend(s, output.data);
    }
    const prev = s.prevLuma;
    s.prevLuma = s.curLuma;
    s.curLuma = prev;
    hasPrev = true;
    return s.smoothed;
  }

  return {
    process,
    setStrength(next: number) {
      strength = assertStrength(next);
    },
    reset() {
      if (hasPrev) resets++;
      hasPrev = false;
    },
    stats: () => ({ frames, resets, strength, meanBlendWeight, staticFraction }),
  };
}

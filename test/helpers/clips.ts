import { existsSync } from 'node:fs';
import path from 'node:path';
import { makeY4m } from '../fixtures/video/make-y4m.js';
import { VIDEOS_DIR, artifactsDir } from './paths.js';

/**
 * The fake-webcam clip: DAVIS horsejump-high (real footage, ../shared/datasets/videos) turned
 * into a y4m by test/fixtures/video/make-y4m.ts. Made once and cached in test/.artifacts.
 */
export async function webcamClip(width: number, height: number, frames = 90): Promise<string> {
  const out = path.join(artifactsDir(), `horsejump-${width}x${height}-${frames}.y4m`);
  if (!existsSync(out)) await makeY4m(path.join(VIDEOS_DIR, 'davis-horsejump-high.webm'), out, width, height, 30, frames);
  return out;
}

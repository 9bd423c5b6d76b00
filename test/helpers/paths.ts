import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** ../shared beside the checkout holds the datasets; CI lays it out the same way. */
export const SHARED_DIR = process.env.CYCLESTREAM_SHARED ?? path.resolve(REPO_ROOT, '../shared');
export const VIDEOS_DIR = path.join(SHARED_DIR, 'datasets', 'videos');
export const FIXTURE_MODELS_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'models');

/** Generated test inputs (y4m clips and the like) live here, ignored by git. */
export function artifactsDir(): string {
  const dir = path.join(REPO_ROOT, 'test', '.artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

// The web app's production build, made when it is missing or older than its sources. Shared by
// `npm start` and `npm run bench`, so a fresh clone needs no separate `npm run build:web`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.next' || entry.name === 'node_modules') continue;
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** True when web/.next is missing or older than web/ or the wire contract it imports (server/contract/). */
export function webBuildStale(root) {
  const webDir = path.join(root, 'web');
  const buildId = path.join(webDir, '.next', 'BUILD_ID');
  if (!existsSync(buildId)) return true;
  const built = statSync(buildId).mtimeMs;
  const sources = [webDir, path.join(root, 'server', 'contract')];
  return sources.some((s) => newestMtime(s) > built);
}

/**
 * Runs `next build web` (about a minute on 2 cores) and returns its exit status. `output`
 * 'stderr' sends the build's stdout to stderr too, for callers whose stdout carries results.
 */
export function buildWeb(root, { output = 'inherit' } = {}) {
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build', path.join(root, 'web')], {
    cwd: root,
    stdio: output === 'stderr' ? ['ignore', 2, 2] : 'inherit',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  });
  return r.status ?? 1;
}

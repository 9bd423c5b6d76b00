/**
 * What every CLI command runs with: its streams and environment (tests pass their own), the
 * repository root the server's defaults are relative to, and the server's heavy stages, loaded
 * only when a command needs them.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** FFmpeg, ORT and sharp load only for commands that use them: `--help` and usage errors stay quick. */
export async function heavy() {
  const [codec, config, inference, jobs] = await Promise.all([
    import('../../server/codec/index.js'),
    import('../../server/config.js'),
    import('../../server/inference/index.js'),
    import('../../server/jobs/index.js'),
  ]);
  // FFmpeg's own warnings (damaged packets it recovers from) are noise here; failures come back as errors.
  codec.setFfmpegLogLevel('quiet');
  return { loadConfig: config.loadConfig, sniffFile: codec.sniffFile, ...inference, ...jobs };
}

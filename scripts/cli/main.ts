/**
 * `cyclestream translate <input> -o <output> --model <id> [--smoothing s] [--size WxH]`
 *
 * Translates a video (to H.264 MP4, sound kept) or an image (JPEG, PNG, WebP; same size out)
 * without a server, through the same runner the server's job queue uses (translate.ts).
 * Settings not given as flags come from the server's environment variables (PROVIDERS,
 * MODELS_DIR, SMOOTHING, PROCESSING_SHORT_SIDE_PX, MAX_VIDEO_WIDTH_PX, ...), then the server's
 * defaults.
 *
 * Exit codes: 0 done, 1 unexpected failure, 2 bad usage, 3 the input cannot be used,
 * 4 the model cannot be used, 5 the output cannot be written, 130 interrupted.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BadRequestError, ConfigError, CycleStreamError, asCycleStreamError, installPolyfills } from '../../server/shared/index.js';
import { REPO_ROOT, heavy, type CliIo } from './context.js';
import { EXIT, exitCodeFor } from './exit.js';
import { translateCommand } from './translate.js';
import { HELP, UsageError } from './usage.js';

// This module is the CLI's entry (scripts/cli.mjs imports run from it): its public names stay here.
export { EXIT, HELP, type CliIo };

async function modelsCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { 'models-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const { loadConfig, listModels } = await heavy();
  const config = loadConfig({ env: io.env, root: REPO_ROOT, overrides: values['models-dir'] ? { modelsDir: path.resolve(values['models-dir']) } : {} });
  const listing = await listModels(config.modelsDir);
  if (listing.models.length === 0) io.stderr.write(`no models in ${config.modelsDir}\n`);
  for (const m of listing.models) io.stdout.write(`${m.id}\t${m.title}${m.hidden ? '\t(hidden)' : ''}\n`);
  for (const bad of listing.invalid) io.stderr.write(`skipped ${bad.file}: ${bad.error.message}\n`);
  return EXIT.ok;
}

/** Runs the CLI; resolves to the exit code. Never throws. */
export async function run(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  installPolyfills();
  const [command, ...rest] = argv;
  try {
    if (!command || command === '--help' || command === '-h' || command === 'help') {
      io.stdout.write(HELP);
      return command ? EXIT.ok : EXIT.usage;
    }
    if (command === 'translate') return await translateCommand(rest, io);
    if (command === 'models') return await modelsCommand(rest, io);
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS'))) {
      io.stderr.write(`cyclestream: ${err.message}\nRun \`cyclestream --help\` for usage.\n`);
      return EXIT.usage;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`cyclestream: ${err.message}\n`);
      return EXIT.usage;
    }
    const e = asCycleStreamError(err, BadRequestError);
    if (!(err instanceof CycleStreamError) && err instanceof Error && 'code' in err && typeof (err as NodeJS.ErrnoException).code === 'string') {
      const code = (err as NodeJS.ErrnoException).code!;
      if (['EACCES', 'ENOSPC', 'EROFS', 'EISDIR', 'ENOENT'].includes(code)) {
        io.stderr.write(`cyclestream: cannot write the output: ${err.message}\n`);
        return EXIT.output;
      }
    }
    io.stderr.write(`cyclestream: ${e.message}\n`);
    return err instanceof CycleStreamError ? exitCodeFor(err) : EXIT.failure;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await run(process.argv.slice(2));
}

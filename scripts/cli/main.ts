/**
 * `cyclestream translate <input> -o <output> --model <id> [--smoothing s] [--size WxH]`
 *
 * Translates a video (to H.264 MP4, sound kept) or an image (JPEG, PNG, WebP; same size out)
 * without a server, through the same runner the server's job queue uses. Settings not given
 * as flags come from the server's environment variables (PROVIDERS, MODELS_DIR, SMOOTHING,
 * PROCESSING_SHORT_SIDE_PX, MAX_VIDEO_WIDTH_PX, ...), then the server's defaults.
 *
 * Exit codes: 0 done, 1 unexpected failure, 2 bad usage, 3 the input cannot be used,
 * 4 the model cannot be used, 5 the output cannot be written, 130 interrupted.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ExecutionProviderName, Generator } from '../../server/inference/index.js';
import type { ImageFormat } from '../../server/jobs/index.js';
import {
  BadRequestError,
  ConfigError,
  CycleStreamError,
  JobCancelledError,
  asCycleStreamError,
  installPolyfills,
} from '../../server/shared/index.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, input: 3, model: 4, output: 5, interrupted: 130 } as const;

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** FFmpeg, ORT and sharp load only for commands that use them: `--help` and usage errors stay quick. */
async function heavy() {
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

const PROVIDER_NAMES: readonly ExecutionProviderName[] = ['cuda', 'webgpu', 'cpu'];

export const HELP = `cyclestream - CycleGAN image-to-image translation

Usage:
  cyclestream translate <input> -o <output> [--model <id>] [options]
  cyclestream models [--models-dir <dir>]
  cyclestream --help

translate: a video (MP4, WebM, MKV, MOV... with H.264, HEVC, VP8, VP9 or MPEG-4 video) becomes
an H.264 MP4 at the source's size and frame rate with its sound kept; an image (JPEG, PNG,
WebP) becomes an image of the same size, in the format the output name asks for.

Options:
  -o, --output <file>       where the result goes (.mp4 for video; .jpg, .png or .webp for images)
  -m, --model <id>          model id from the models folder (see \`cyclestream models\`); default: DEFAULT_MODEL's
                            larger '-hq' model where installed (horse2zebra-hq), else DEFAULT_MODEL
  -s, --smoothing <0..1>    temporal smoothing for video (default 0.5, env SMOOTHING)
      --size <WxH>          output video size, e.g. 1280x720, 1280x or x720 (default: the source's)
      --models-dir <dir>    models folder (default <repo>/models, env MODELS_DIR)
      --processing-px <n>   short side of the picture the model sees (default 256, env PROCESSING_SHORT_SIDE_PX)
      --providers <list>    execution providers in order, e.g. cpu or cuda,cpu (env PROVIDERS)
  -f, --force               overwrite an existing output file
  -q, --quiet               no progress output
  -h, --help                this text

Exit codes: 0 done, 1 unexpected failure, 2 bad usage, 3 unusable input, 4 unusable model,
5 output not writable, 130 interrupted.
`;

class UsageError extends Error {}

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

const IMAGE_EXT: Record<string, ImageFormat> = { '.jpg': 'jpeg', '.jpeg': 'jpeg', '.png': 'png', '.webp': 'webp' };

function parseSize(raw: string | undefined): { width: number | null; height: number | null } | null {
  if (raw === undefined) return null;
  const m = /^(\d+)?[xX](\d+)?$/.exec(raw.trim());
  if (!m || (!m[1] && !m[2])) throw new UsageError(`--size ${JSON.stringify(raw)}: expected WxH, Wx or xH (e.g. 1280x720)`);
  return { width: m[1] ? Number(m[1]) : null, height: m[2] ? Number(m[2]) : null };
}

function exitCodeFor(err: CycleStreamError): number {
  switch (err.code) {
    case 'MEDIA_INVALID':
    case 'MEDIA_UNSUPPORTED':
    case 'NO_VIDEO':
    case 'UNSUPPORTED_CODEC':
    case 'FRAME_TOO_LARGE':
      return EXIT.input;
    case 'MODEL_NOT_FOUND':
    case 'MODEL_ID_INVALID':
    case 'MODEL_LOAD_FAILED':
    case 'MANIFEST_INVALID':
    case 'PROVIDER_UNAVAILABLE':
      return EXIT.model;
    case 'JOB_CANCELLED':
      return EXIT.interrupted;
    case 'BAD_REQUEST':
    case 'CONFIG_INVALID':
      return EXIT.usage;
    default:
      return EXIT.failure;
  }
}

/** A one-line progress bar on a terminal; otherwise a plain line every 10 % (logs, CI). */
function progressReporter(io: CliIo, quiet: boolean) {
  const tty = io.stderr.isTTY === true;
  const t0 = Date.now();
  let lastDecile = -1;
  let drawn = false;
  return {
    update(done: number, total: number) {
      if (quiet) return;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const elapsedS = (Date.now() - t0) / 1000;
      const fps = elapsedS > 0 ? done / elapsedS : 0;
      const eta = fps > 0 ? Math.max(0, (total - done) / fps) : null;
      const tail = `${done}/${total} frames  ${fps.toFixed(1)} fps  ETA ${eta === null ? '--' : `${Math.ceil(eta)} s`}`;
      if (tty) {
        const width = Math.max(10, Math.min(40, (io.stderr.columns ?? 80) - tail.length - 10));
        const filled = Math.round(frac * width);
        io.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${tail}\x1b[K`);
        drawn = true;
      } else {
        const decile = Math.floor(frac * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          io.stderr.write(`progress ${decile * 10}% (${tail})\n`);
        }
      }
    },
    end() {
      if (drawn) io.stderr.write('\n');
      drawn = false;
    },
  };
}

async function translateCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      model: { type: 'string', short: 'm' },
      smoothing: { type: 'string', short: 's' },
      size: { type: 'string' },
      'models-dir': { type: 'string' },
      'processing-px': { type: 'string' },
      providers: { type: 'string' },
      force: { type: 'boolean', short: 'f' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one input file, got ${positionals.length}` : 'no input file given');
  const input = path.resolve(positionals[0]!);
  if (!values.output) throw new UsageError('no output file given (-o <file>)');
  const output = path.resolve(values.output);

  const overrides: { modelsDir?: string; smoothing?: number; processingShortSidePx?: number; providers?: ExecutionProviderName[] } = {};
  if (values['models-dir']) overrides.modelsDir = path.resolve(values['models-dir']);
  if (values.smoothing !== undefined) {
    const s = Number(values.smoothing);
    if (values.smoothing.trim() === '' || !(s >= 0 && s <= 1)) throw new UsageError(`--smoothing ${values.smoothing}: expected a number from 0 to 1`);
    overrides.smoothing = s;
  }
  if (values['processing-px'] !== undefined) {
    const px = Number(values['processing-px']);
    if (!Number.isInteger(px)) throw new UsageError(`--processing-px ${values['processing-px']}: expected an integer`);
    overrides.processingShortSidePx = px;
  }
  if (values.providers !== undefined) {
    const list = values.providers.split(',').map((p) => p.trim()).filter(Boolean);
    const bad = list.find((p) => !(PROVIDER_NAMES as readonly string[]).includes(p));
    if (bad || list.length === 0) throw new UsageError(`--providers ${values.providers}: choose from ${PROVIDER_NAMES.join(', ')}`);
    overrides.providers = list as ExecutionProviderName[];
  }
  const size = parseSize(values.size);
  const { loadConfig, createInferenceHost, defaultFileModel, listModels, probeVideo, resolveOutputSize, sniffFile, translateImage, translateVideo } = await heavy();
  const config = loadConfig({ env: io.env, root: REPO_ROOT, overrides: { ...overrides, web: false } });
  const modelId = values.model ?? defaultFileModel(config.defaultModel, (await listModels(config.modelsDir)).models.map((m) => m.id));
  if (!modelId) throw new UsageError('no model given (--model <id>)');

  try {
    const s = await stat(input);
    if (!s.isFile()) throw new UsageError(`${positionals[0]} is not a file`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    io.stderr.write(`cyclestream: cannot read ${positionals[0]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return EXIT.input;
  }
  if (input === output) throw new UsageError('the output would overwrite the input');
  const exists = await stat(output).then(() => true, () => false);
  if (exists && !values.force) {
    io.stderr.write(`cyclestream: ${values.output} exists; pass --force to overwrite it\n`);
    return EXIT.output;
  }
  try {
    const dir = await stat(path.dirname(output));
    if (!dir.isDirectory()) throw new Error('not a directory');
  } catch {
    io.stderr.write(`cyclestream: cannot write ${values.output}: its folder does not exist\n`);
    return EXIT.output;
  }

  // By its first bytes, never its name; anything but an accepted image goes to the video probe,
  // which opens only MP4/MOV and Matroska/WebM, with their own demuxers (server/codec/formats.ts).
  const isImage = (await sniffFile(input)).kind === 'image';
  const outExt = path.extname(output).toLowerCase();
  const imageFormat = IMAGE_EXT[outExt];
  if (isImage && !imageFormat) throw new UsageError(`the input is an image: name the output .jpg, .png or .webp (got ${outExt || 'no extension'})`);
  if (!isImage && outExt !== '.mp4') throw new UsageError(`the result of a video is an MP4: name the output .mp4 (got ${outExt || 'no extension'})`);
  if (isImage && size) throw new UsageError('--size applies to videos; images keep their own size');

  const quiet = values.quiet === true;
  const say = (line: string) => {
    if (!quiet) io.stderr.write(`${line}\n`);
  };

  // Probe before loading the model: a bad input should not wait for an ORT session.
  const probe = isImage ? null : await probeVideo(input, { maxWidthPx: config.maxVideoWidthPx, maxHeightPx: config.maxVideoHeightPx }, positionals[0]!);
  if (probe && size) {
    for (const v of [size.width, size.height]) {
      if (v !== null && !(v >= 16 && v <= Math.max(config.maxVideoWidthPx, config.maxVideoHeightPx))) {
        throw new BadRequestError(`--size ${values.size}: each side must be 16..${Math.max(config.maxVideoWidthPx, config.maxVideoHeightPx)}`);
      }
    }
  }

  const controller = new AbortController();
  const onSignal = () => controller.abort(new JobCancelledError('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // One generator, so nothing to batch it with.
  const host = createInferenceHost({ modelsDir: config.modelsDir, providers: config.providers, intraOpThreads: config.intraOpThreads });
  let generator: Generator | null = null;
  const partial = `${output}.partial-${process.pid}${outExt}`;
  try {
    generator = await host.loadModel(modelId);
    if (controller.signal.aborted) throw new JobCancelledError('interrupted');
    say(`model ${generator.manifest.id} on ${generator.provider}`);
    if (isImage) {
      const res = await translateImage({
        input,
        generator,
        processingShortSidePx: config.processingShortSidePx,
        maxPixels: config.maxImagePixels,
        maxAspectRatio: config.maxImageAspectRatio,
        format: imageFormat,
      });
      await writeResult(partial, output, res.data);
      say(`wrote ${values.output} (${res.width}x${res.height} ${res.format})`);
      return EXIT.ok;
    }
    const source = probe!;
    const out = resolveOutputSize(source.video, size);
    say(
      `${positionals[0]}: ${source.video.codec} ${source.video.width}x${source.video.height} ${source.video.fps.toFixed(2)} fps, ` +
        `${source.video.frames} frames, audio ${source.audio ? `${source.audio.codec} (${source.audio.action === 'copy' ? 'copied' : 'to AAC'})` : 'none'}`,
    );
    const bar = progressReporter(io, quiet);
    let res;
    try {
      res = await translateVideo({
        inputPath: input,
        outputPath: partial,
        probe: source,
        generator,
        smoothing: config.smoothing,
        processingShortSidePx: config.processingShortSidePx,
        outputSize: out,
        signal: controller.signal,
        onProgress: (p) => bar.update(p.framesDone, p.framesTotal),
      });
    } finally {
      bar.end();
    }
    await rename(partial, output);
    say(`wrote ${values.output} (${res.width}x${res.height}, ${res.frames} frames, ${res.durationS.toFixed(2)} s, audio ${res.audio})`);
    return EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await rm(partial, { force: true }).catch(() => undefined);
    await generator?.close().catch(() => undefined);
    await host.close().catch(() => undefined);
  }
}

async function writeResult(partial: string, output: string, data: Buffer): Promise<void> {
  const fh = await open(partial, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(partial, output);
}

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

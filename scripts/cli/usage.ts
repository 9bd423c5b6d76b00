/**
 * The CLI's usage text and its argument parsing: everything that can be refused before the
 * server's stages load, so a mistyped flag answers at once with exit code 2.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ExecutionProviderName } from '../../server/inference/index.js';
import type { ImageFormat } from '../../server/jobs/index.js';

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

/** Bad usage: the message is followed by a pointer to --help, and the exit code is 2. */
export class UsageError extends Error {}

export const IMAGE_EXT: Record<string, ImageFormat> = { '.jpg': 'jpeg', '.jpeg': 'jpeg', '.png': 'png', '.webp': 'webp' };

const PROVIDER_NAMES: readonly ExecutionProviderName[] = ['cuda', 'webgpu', 'cpu'];

export function parseSize(raw: string | undefined): { width: number | null; height: number | null } | null {
  if (raw === undefined) return null;
  const m = /^(\d+)?[xX](\d+)?$/.exec(raw.trim());
  if (!m || (!m[1] && !m[2])) throw new UsageError(`--size ${JSON.stringify(raw)}: expected WxH, Wx or xH (e.g. 1280x720)`);
  return { width: m[1] ? Number(m[1]) : null, height: m[2] ? Number(m[2]) : null };
}

/** Config settings given as translate flags; they win over the environment. */
export interface TranslateOverrides {
  modelsDir?: string;
  smoothing?: number;
  processingShortSidePx?: number;
  providers?: ExecutionProviderName[];
}

/** `translate`'s flags, checked; names as the user gave them are kept for messages. */
export interface TranslateArgs {
  inputArg: string;
  input: string;
  outputArg: string;
  output: string;
  model: string | undefined;
  overrides: TranslateOverrides;
  sizeArg: string | undefined;
  size: { width: number | null; height: number | null } | null;
  force: boolean;
  quiet: boolean;
}

/** `translate`'s flags, or 'help'; throws UsageError (or parseArgs' TypeError) on bad usage. */
export function parseTranslateArgs(args: string[]): TranslateArgs | 'help' {
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
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one input file, got ${positionals.length}` : 'no input file given');
  const input = path.resolve(positionals[0]!);
  if (!values.output) throw new UsageError('no output file given (-o <file>)');
  const output = path.resolve(values.output);

  const overrides: TranslateOverrides = {};
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
  return {
    inputArg: positionals[0]!,
    input,
    outputArg: values.output,
    output,
    model: values.model,
    overrides,
    sizeArg: values.size,
    size: parseSize(values.size),
    force: values.force === true,
    quiet: values.quiet === true,
  };
}

/**
 * `cyclestream translate`: one video or image, through the same runner the server's job queue
 * uses. The input, the output's name and folder and the video's probe are all checked before
 * the model loads, so a bad call does not wait for an ORT session.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Generator } from '../../server/inference/index.js';
import { BadRequestError, JobCancelledError } from '../../server/shared/index.js';
import { REPO_ROOT, heavy, type CliIo } from './context.js';
import { EXIT } from './exit.js';
import { progressReporter } from './progress.js';
import { HELP, IMAGE_EXT, UsageError, parseTranslateArgs } from './usage.js';

export async function translateCommand(args: string[], io: CliIo): Promise<number> {
  const parsed = parseTranslateArgs(args);
  if (parsed === 'help') {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const { inputArg, input, outputArg, output, overrides, size, sizeArg } = parsed;
  const { loadConfig, createInferenceHost, defaultFileModel, listModels, probeVideo, resolveOutputSize, sniffFile, translateImage, translateVideo } = await heavy();
  const config = loadConfig({ env: io.env, root: REPO_ROOT, overrides: { ...overrides, web: false } });
  const modelId = parsed.model ?? defaultFileModel(config.defaultModel, (await listModels(config.modelsDir)).models.map((m) => m.id));
  if (!modelId) throw new UsageError('no model given (--model <id>)');

  try {
    const s = await stat(input);
    if (!s.isFile()) throw new UsageError(`${inputArg} is not a file`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    io.stderr.write(`cyclestream: cannot read ${inputArg}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return EXIT.input;
  }
  if (input === output) throw new UsageError('the output would overwrite the input');
  const exists = await stat(output).then(() => true, () => false);
  if (exists && !parsed.force) {
    io.stderr.write(`cyclestream: ${outputArg} exists; pass --force to overwrite it\n`);
    return EXIT.output;
  }
  try {
    const dir = await stat(path.dirname(output));
    if (!dir.isDirectory()) throw new Error('not a directory');
  } catch {
    io.stderr.write(`cyclestream: cannot write ${outputArg}: its folder does not exist\n`);
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

  const quiet = parsed.quiet;
  const say = (line: string) => {
    if (!quiet) io.stderr.write(`${line}\n`);
  };

  // Probe before loading the model: a bad input should not wait for an ORT session.
  const probe = isImage ? null : await probeVideo(input, { maxWidthPx: config.maxVideoWidthPx, maxHeightPx: config.maxVideoHeightPx }, inputArg);
  if (probe && size) {
    for (const v of [size.width, size.height]) {
      if (v !== null && !(v >= 16 && v <= Math.max(config.maxVideoWidthPx, config.maxVideoHeightPx))) {
        throw new BadRequestError(`--size ${sizeArg}: each side must be 16..${Math.max(config.maxVideoWidthPx, config.maxVideoHeightPx)}`);
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
      say(`wrote ${outputArg} (${res.width}x${res.height} ${res.format})`);
      return EXIT.ok;
    }
    const source = probe!;
    const out = resolveOutputSize(source.video, size);
    say(
      `${inputArg}: ${source.video.codec} ${source.video.width}x${source.video.height} ${source.video.fps.toFixed(2)} fps, ` +
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
    say(`wrote ${outputArg} (${res.width}x${res.height}, ${res.frames} frames, ${res.durationS.toFixed(2)} s, audio ${res.audio})`);
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

/**
 * One still image through the generator: sharp decodes (JPEG, PNG, WebP), orients and scales
 * to the processing size, the generator translates, and sharp scales back to the image's own
 * size and encodes it in the format it came in, transparency kept.
 *
 * Before sharp decodes anything: the first bytes must be JPEG, PNG or WebP (codec/formats.ts; SVG,
 * TIFF and the rest never reach libvips), and the header's pixel count and aspect ratio must be
 * within limits. The model input is bounded whatever the aspect ratio (processingSizeWithin).
 */
import sharp, { type Metadata } from 'sharp';
import { HEAD_BYTES, readHead, sniffBytes } from '../codec/index.js';
import type { Generator } from '../inference/index.js';
import { CycleStreamError, FrameTooLargeError, InvalidMediaError, UnsupportedMediaError } from '../shared/errors.js';
import { processingSizeWithin } from '../shared/image.js';

export type ImageFormat = 'jpeg' | 'png' | 'webp';

export const IMAGE_CONTENT_TYPES: Record<ImageFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};

export interface TranslateImageOptions {
  /** File path or bytes. */
  input: string | Buffer;
  generator: Generator;
  processingShortSidePx: number;
  /** Largest width x height decoded; bigger images are refused before decoding. */
  maxPixels: number;
  /** Widest long side / short side decoded. */
  maxAspectRatio: number;
  /** Output format; default the input's. */
  format?: ImageFormat;
  /** The header as readImageHeader() returned it, when the caller checked it already. */
  header?: ImageHeader;
}

export interface ImageResult {
  readonly data: Buffer;
  readonly format: ImageFormat;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
}

function isImageFormat(f: string | undefined): f is ImageFormat {
  return f === 'jpeg' || f === 'png' || f === 'webp';
}

/** The model never sees a long side above this many times the processing short side. */
const MAX_PROCESSING_ASPECT = 4;

async function assertAcceptedImage(input: string | Buffer): Promise<void> {
  const head = typeof input === 'string' ? await readHead(input) : input.subarray(0, HEAD_BYTES);
  if (head.length === 0) throw new InvalidMediaError('the image is empty (0 bytes)');
  const sniffed = sniffBytes(head);
  if (sniffed.kind === 'image') return;
  if (sniffed.kind === 'unknown') throw new InvalidMediaError('not an image this server reads (JPEG, PNG or WebP expected)');
  throw new UnsupportedMediaError(`this is ${sniffed.kind === 'video' ? `a ${sniffed.info.container} video` : sniffed.what}; send a JPEG, PNG or WebP image`);
}

/** What the header says, once it has passed the checks: read without decoding a pixel. */
export interface ImageHeader {
  readonly format: ImageFormat;
  readonly width: number;
  readonly height: number;
  readonly orientation: number;
  readonly hasAlpha: boolean;
}

/**
 * Checks an image before anything decodes it: JPEG, PNG or WebP by its bytes, one frame, and
 * within the pixel and aspect-ratio limits by its header. Cheap: no model, no decoding.
 */
export async function readImageHeader(input: string | Buffer, limits: { maxPixels: number; maxAspectRatio: number }): Promise<ImageHeader> {
  await assertAcceptedImage(input);
  let meta: Metadata;
  try {
    // Header only; the limit is enforced on the numbers below, and again by libvips when decoding.
    meta = await sharp(input, { limitInputPixels: false, failOn: 'error' }).metadata();
  } catch (err) {
    throw new InvalidMediaError(`not an image sharp can read (${(err as Error).message})`, { cause: err });
  }
  if (!isImageFormat(meta.format)) {
    throw new UnsupportedMediaError(`image format ${meta.format ?? 'unknown'} is not supported; send JPEG, PNG or WebP`);
  }
  if ((meta.pages ?? 1) > 1) throw new UnsupportedMediaError('animated images are not supported');
  const rawW = meta.width ?? 0;
  const rawH = meta.height ?? 0;
  if (!(rawW > 0 && rawH > 0)) throw new InvalidMediaError('the image has no size');
  if (rawW * rawH > limits.maxPixels) {
    throw new FrameTooLargeError(`the image is ${rawW}x${rawH} (${(rawW * rawH / 1e6).toFixed(1)} MP); the limit is ${(limits.maxPixels / 1e6).toFixed(1)} MP`);
  }
  const aspect = Math.max(rawW, rawH) / Math.min(rawW, rawH);
  if (aspect > limits.maxAspectRatio) {
    throw new FrameTooLargeError(`the image is ${rawW}x${rawH}, an aspect ratio of ${aspect.toFixed(1)}:1; the limit is ${limits.maxAspectRatio}:1`);
  }
  return { format: meta.format, width: rawW, height: rawH, orientation: meta.orientation ?? 1, hasAlpha: meta.hasAlpha === true };
}

export async function translateImage(opts: TranslateImageOptions): Promise<ImageResult> {
  const meta = opts.header ?? (await readImageHeader(opts.input, opts));
  // limitInputPixels makes libvips itself refuse to decode past the limit, whatever the header claimed.
  const source = () => sharp(opts.input, { limitInputPixels: opts.maxPixels, failOn: 'error', sequentialRead: true });
  const rawW = meta.width;
  const rawH = meta.height;
  // EXIF orientations 5-8 turn the picture a quarter: the displayed size is swapped.
  const quarterTurn = meta.orientation >= 5;
  const width = quarterTurn ? rawH : rawW;
  const height = quarterTurn ? rawW : rawH;
  const proc = processingSizeWithin(
    width,
    height,
    opts.processingShortSidePx,
    opts.generator.manifest.input.sizeMultiple,
    opts.processingShortSidePx * MAX_PROCESSING_ASPECT,
  );

  try {
    const { data: rgb, info } = await source()
      .autoOrient()
      .resize(proc.width, proc.height, { fit: 'fill' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== proc.width || info.height !== proc.height) {
      throw new InvalidMediaError(`unexpected decoded layout ${info.width}x${info.height}x${info.channels}`);
    }
    const translated = await opts.generator.run({ width: proc.width, height: proc.height, data: rgb });

    let out = sharp(Buffer.from(translated.data.buffer, translated.data.byteOffset, translated.data.byteLength), {
      raw: { width: proc.width, height: proc.height, channels: 3 },
    }).resize(width, height, { fit: 'fill', kernel: 'cubic' });
    if (meta.hasAlpha) {
      const alpha = await source().autoOrient().extractChannel('alpha').raw().toBuffer();
      out = out.joinChannel(alpha, { raw: { width, height, channels: 1 } });
    }
    const format: ImageFormat = opts.format ?? meta.format;
    const encoded =
      format === 'jpeg' ? out.jpeg({ quality: 92 }) : format === 'png' ? out.png() : out.webp({ quality: 92 });
    const data = await encoded.toBuffer();
    return { data, format, contentType: IMAGE_CONTENT_TYPES[format], width, height };
  } catch (err) {
    if (err instanceof CycleStreamError) throw err;
    throw new InvalidMediaError(`the image could not be processed (${(err as Error).message})`, { cause: err });
  }
}

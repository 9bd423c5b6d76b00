/**
 * One still image through the generator: sharp decodes (JPEG, PNG, WebP), orients and scales
 * to the processing size, the generator translates, and sharp scales back to the image's own
 * size and encodes it in the format it came in, transparency kept.
 */
import sharp, { type Metadata } from 'sharp';
import type { Generator } from '../inference/index.js';
import { CycleStreamError, FrameTooLargeError, InvalidMediaError, UnsupportedMediaError } from '../shared/errors.js';
import { processingSize } from '../shared/image.js';

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
  /** Output format; default the input's. */
  format?: ImageFormat;
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

export async function translateImage(opts: TranslateImageOptions): Promise<ImageResult> {
  const source = () => sharp(opts.input, { limitInputPixels: false, failOn: 'error' });
  let meta: Metadata;
  try {
    meta = await source().metadata();
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
  if (rawW * rawH > opts.maxPixels) {
    throw new FrameTooLargeError(`the image is ${rawW}x${rawH} (${(rawW * rawH / 1e6).toFixed(1)} MP); the limit is ${(opts.maxPixels / 1e6).toFixed(1)} MP`);
  }
  // EXIF orientations 5-8 turn the picture a quarter: the displayed size is swapped.
  const quarterTurn = (meta.orientation ?? 1) >= 5;
  const width = quarterTurn ? rawH : rawW;
  const height = quarterTurn ? rawW : rawH;
  const proc = processingSize(width, height, opts.processingShortSidePx, opts.generator.manifest.input.sizeMultiple);

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

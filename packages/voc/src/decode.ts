import sharp from 'sharp';
import { ImageError } from './errors';

/** A decoded image: RGB, row-major, `[height * width * 3]`. */
export interface DecodedImage {
  image: Uint8Array;
  width: number;
  height: number;
}

/** Options of {@link decodeImage}. */
export interface DecodeOptions {
  /**
   * Downscale (aspect kept, never enlarged) so that neither side exceeds this many
   * pixels, while decoding: JPEG shrink-on-load, then sharp's default (Lanczos 3)
   * resampling. Default: full size.
   */
  maxSide?: number;
}

/** Checks `maxSide` (undefined, or a positive integer). */
export function checkMaxSide(maxSide: number | undefined): void {
  if (maxSide !== undefined && !(Number.isInteger(maxSide) && maxSide > 0)) {
    throw new RangeError(`maxSide must be a positive integer, got ${maxSide}`);
  }
}

/**
 * Decodes a JPEG/PNG (anything sharp reads) into 8-bit RGB: EXIF orientation applied
 * (width/height are those of the upright image), grayscale and CMYK converted to sRGB,
 * alpha dropped, 16-bit reduced to 8-bit. Truncated or corrupt data throws
 * {@link ImageError} (`corrupt`), a missing file `missing`.
 *
 * @param input a file path or the encoded bytes.
 * @param file the name used in errors (defaults to `input` when it is a path).
 * @param options `maxSide`: decode downscaled (the returned width/height are the
 *   downscaled ones).
 */
export async function decodeImage(
  input: string | Uint8Array,
  file?: string,
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  const name = file ?? (typeof input === 'string' ? input : '<buffer>');
  const { maxSide } = options;
  checkMaxSide(maxSide);
  try {
    let pipeline = sharp(input, { failOn: 'truncated' }).rotate();
    if (maxSide !== undefined) {
      pipeline = pipeline.resize({
        width: maxSide,
        height: maxSide,
        fit: 'inside',
        withoutEnlargement: true,
      });
    }
    const { data, info } = await pipeline
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new ImageError(name, 'corrupt', `decoded to ${info.channels} channels, expected 3`);
    }
    return {
      image: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
    };
  } catch (error) {
    if (error instanceof ImageError) throw error;
    const message = (error as Error).message ?? String(error);
    if (/no such file|ENOENT|Input file is missing/i.test(message)) {
      throw new ImageError(name, 'missing', 'file not found');
    }
    throw new ImageError(name, 'corrupt', message.split('\n')[0] ?? message);
  }
}

/**
 * The upright size of an image from its header alone (EXIF orientations 5–8 swap
 * width and height), without decoding the pixels.
 */
export async function readImageSize(
  input: string | Uint8Array,
  file?: string,
): Promise<{ width: number; height: number }> {
  const name = file ?? (typeof input === 'string' ? input : '<buffer>');
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input).metadata();
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (/no such file|ENOENT|Input file is missing/i.test(message)) {
      throw new ImageError(name, 'missing', 'file not found');
    }
    throw new ImageError(name, 'corrupt', message.split('\n')[0] ?? message);
  }
  if (!meta.width || !meta.height) throw new ImageError(name, 'corrupt', 'no image size in header');
  const swap = (meta.orientation ?? 1) >= 5;
  return swap
    ? { width: meta.height, height: meta.width }
    : { width: meta.width, height: meta.height };
}

import type { RgbImage } from '@ssd/detect';

/** Packs RGBA canvas pixels (`[height * width * 4]`) as RGB (`[height * width * 3]`). */
export function rgbFromRgba(rgba: Uint8ClampedArray, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    data[i] = rgba[j]!;
    data[i + 1] = rgba[j + 1]!;
    data[i + 2] = rgba[j + 2]!;
  }
  return { data, width, height };
}

/** RGB pixels as canvas `ImageData` (opaque). */
export function imageDataFromRgb(image: RgbImage): ImageData {
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  for (let i = 0, j = 0; i < image.data.length; i += 3, j += 4) {
    rgba[j] = image.data[i]!;
    rgba[j + 1] = image.data[i + 1]!;
    rgba[j + 2] = image.data[i + 2]!;
    rgba[j + 3] = 255;
  }
  return new ImageData(rgba, image.width, image.height);
}

/** The pixels of whatever a canvas can draw (a bitmap, a video frame), as RGB. */
export function rgbFromDrawable(
  source: CanvasImageSource,
  width: number,
  height: number,
): RgbImage {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.drawImage(source, 0, 0, width, height);
  return rgbFromRgba(context.getImageData(0, 0, width, height).data, width, height);
}

/**
 * Decodes an image file or URL to RGB exactly as stored: no colour-space
 * conversion and no alpha premultiplication, so a PNG gives the bytes sharp
 * gives in Node (what the browser tests compare against).
 */
export async function decodeImage(source: Blob | string): Promise<RgbImage> {
  let blob: Blob;
  if (typeof source === 'string') {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`${source}: HTTP ${response.status}`);
    blob = await response.blob();
  } else {
    blob = source;
  }
  const bitmap = await createImageBitmap(blob, {
    colorSpaceConversion: 'none',
    premultiplyAlpha: 'none',
  });
  try {
    return rgbFromDrawable(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

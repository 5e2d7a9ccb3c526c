import type { Detection, RgbImage } from '@ssd/detect';
import { imageDataFromRgb } from './image';

const COLOURS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6'];

/** A stable colour per class id. */
export function classColour(classId: number): string {
  return COLOURS[(classId - 1 + COLOURS.length) % COLOURS.length]!;
}

/**
 * Draws `image` on `canvas` (resized to it, at most `maxSide` CSS pixels on
 * its long side) with the detections at or above `scoreThreshold`: box, label,
 * score. Returns how many were drawn.
 */
export function drawDetections(
  canvas: HTMLCanvasElement,
  image: RgbImage | ImageBitmap | HTMLVideoElement,
  detections: readonly Detection[],
  options: { scoreThreshold: number; maxSide?: number },
): number {
  const { width, height } =
    image instanceof HTMLVideoElement
      ? { width: image.videoWidth, height: image.videoHeight }
      : image;
  canvas.width = width;
  canvas.height = height;
  const maxSide = options.maxSide ?? 640;
  const scale = Math.min(1, maxSide / Math.max(width, height));
  canvas.style.width = `${Math.round(width * scale)}px`;
  canvas.style.height = `${Math.round(height * scale)}px`;
  const context = canvas.getContext('2d')!;
  if ('data' in image) context.putImageData(imageDataFromRgb(image), 0, 0);
  else context.drawImage(image, 0, 0);
  // Lines and text keep their on-screen size whatever the image's resolution.
  const px = 1 / scale;
  context.lineWidth = 2 * px;
  context.font = `${Math.round(12 * px)}px system-ui, sans-serif`;
  context.textBaseline = 'top';
  let drawn = 0;
  for (const d of detections) {
    if (d.score < options.scoreThreshold) continue;
    const { xMin, yMin, xMax, yMax } = d.box;
    const colour = classColour(d.classId);
    context.strokeStyle = colour;
    context.strokeRect(xMin, yMin, xMax - xMin, yMax - yMin);
    const text = `${d.label ?? `class ${d.classId}`} ${(d.score * 100).toFixed(0)}%`;
    const textWidth = context.measureText(text).width + 6 * px;
    const textHeight = 16 * px;
    const top = yMin >= textHeight ? yMin - textHeight : yMin;
    context.fillStyle = colour;
    context.fillRect(xMin, top, textWidth, textHeight);
    context.fillStyle = '#fff';
    context.fillText(text, xMin + 3 * px, top + 2 * px);
    drawn++;
  }
  return drawn;
}

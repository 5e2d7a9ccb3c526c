import type { Detection, RgbImage } from '@ssd/detect';
import { imageDataFromRgb } from './image';

const COLOURS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6'];

/** A stable colour per class id. */
export function classColour(classId: number): string {
  return COLOURS[(classId - 1 + COLOURS.length) % COLOURS.length]!;
}

/**
 * Draws `image` on `canvas`, scaled so its long side is `maxSide` pixels (small
 * images grow, large ones shrink), with the detections at or above
 * `scoreThreshold`: box, label, score. Returns how many were drawn.
 */
export function drawDetections(
  canvas: HTMLCanvasElement,
  image: RgbImage | HTMLVideoElement,
  detections: readonly Detection[],
  options: { scoreThreshold: number; maxSide?: number },
): number {
  const { width, height } =
    image instanceof HTMLVideoElement
      ? { width: image.videoWidth, height: image.videoHeight }
      : image;
  const scale = (options.maxSide ?? 640) / Math.max(width, height);
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const context = canvas.getContext('2d')!;
  if (image instanceof HTMLVideoElement) {
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
  } else {
    const pixels = new OffscreenCanvas(width, height);
    pixels.getContext('2d')!.putImageData(imageDataFromRgb(image), 0, 0);
    context.imageSmoothingEnabled = scale < 1;
    context.drawImage(pixels, 0, 0, canvas.width, canvas.height);
  }
  context.lineWidth = 2;
  context.font = '12px system-ui, sans-serif';
  context.textBaseline = 'top';
  let drawn = 0;
  // Lowest score first, so the best boxes end up on top.
  for (const d of [...detections].reverse()) {
    if (d.score < options.scoreThreshold) continue;
    const [x0, y0, x1, y1] = [d.box.xMin, d.box.yMin, d.box.xMax, d.box.yMax].map(
      (v) => v * scale,
    ) as [number, number, number, number];
    const colour = classColour(d.classId);
    context.strokeStyle = colour;
    context.strokeRect(x0, y0, x1 - x0, y1 - y0);
    const text = `${d.label ?? `class ${d.classId}`} ${(d.score * 100).toFixed(0)}%`;
    const textWidth = context.measureText(text).width + 6;
    const top = y0 >= 16 ? y0 - 16 : y0;
    context.fillStyle = colour;
    context.fillRect(x0, top, textWidth, 16);
    context.fillStyle = '#fff';
    context.fillText(text, x0 + 3, top + 2);
    drawn++;
  }
  return drawn;
}

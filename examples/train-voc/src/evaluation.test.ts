import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import type { RgbImage } from '@ssd/detect';
import type { Sample } from '@ssd/geometry';
import { describe, expect, it } from 'vitest';
import { evaluateDetector, evaluationSummary, formatApTable, writePrCurves } from './evaluation';

function sample(i: number): Sample {
  const width = 20 + i;
  const height = 16;
  return {
    id: `im${i}`,
    image: new Uint8Array(width * height * 3).fill(100),
    width,
    height,
    boxes: Float32Array.from([2, 3, 10, 12]),
    labels: Int32Array.from([1 + (i % 2)]),
    difficult: Uint8Array.from([0]),
  };
}

describe('evaluateDetector', () => {
  it('gives AP 1 for perfect detections, AP 0.5-ish for half, and writes plots and drawings', async () => {
    const dir = await fs.mkdtemp(path.join(tmpdir(), 'eval-'));
    const samples = Array.from({ length: 5 }, (_, i) => sample(i));
    const seenBatches: number[] = [];
    const result = await evaluateDetector({
      source: { size: samples.length, load: async (i) => samples[i]! },
      classNames: ['a', 'b'],
      batchSize: 2,
      method: 'voc07',
      draw: 2,
      drawDir: path.join(dir, 'images'),
      detector: {
        detectBatch: async (images) => {
          seenBatches.push(images.length);
          return images.map((input) => {
            const image = input as RgbImage;
            // The detector gets each original image, at its own size, and resizes it itself.
            const s = samples.find((x) => x.width === image.width)!;
            expect(image).toEqual({ data: s.image, width: s.width, height: s.height });
            // Class 'b' images (odd) get a wrong box: AP(b) = 0; AP(a) = 1.
            const good = s.labels[0] === 1;
            return [
              {
                box: good
                  ? { xMin: 2, yMin: 3, xMax: 10, yMax: 12 }
                  : { xMin: 12, yMin: 0, xMax: 19, yMax: 4 },
                classId: s.labels[0]!,
                score: 0.9,
              },
            ];
          });
        },
      },
    });
    expect(seenBatches).toEqual([2, 2, 1]);
    expect(result.numImages).toBe(5);
    expect(result.classes[0]!.ap).toBeCloseTo(1, 6);
    expect(result.classes[1]!.ap).toBe(0);
    expect(result.map).toBeCloseTo(0.5, 6);
    expect(evaluationSummary(result).perClassAP).toEqual({ a: result.classes[0]!.ap, b: 0 });
    const table = formatApTable(result);
    expect(table).toMatch(/a\s+100\.0/);
    expect(table).toMatch(/mAP\s+50\.0/);
    expect((await fs.readdir(path.join(dir, 'images'))).sort()).toEqual(['im0.png', 'im1.png']);
    await writePrCurves(result, path.join(dir, 'pr.png'));
    expect((await sharp(path.join(dir, 'pr.png')).metadata()).format).toBe('png');
    await fs.rm(dir, { recursive: true });
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectArrayClose } from '@ssd/testing';
import {
  AnchorConfigError,
  SSD300_COCO,
  SSD300_VOC,
  SSD512_VOC,
  anchorConfigFromScales,
  generateAnchors,
  generateAnchorsPacked,
  linearScales,
  numAnchors,
  numAnchorsPerLocation,
  type AnchorConfig,
} from './index';

const r2 = Math.SQRT2;

function anchor(packed: Float32Array, i: number): number[] {
  return Array.from(packed.subarray(i * 4, i * 4 + 4));
}

describe('presets', () => {
  it('SSD300_VOC has 8732 anchors, as a [8732, 4] tensor', async () => {
    expect(numAnchorsPerLocation(SSD300_VOC)).toEqual([4, 6, 6, 6, 4, 4]);
    expect(numAnchors(SSD300_VOC)).toBe(8732);
    // generateAnchors hands exactly one tensor to the caller and keeps nothing else.
    const before = tf.memory().numTensors;
    const t = generateAnchors(SSD300_VOC);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(t.shape).toEqual([8732, 4]);
    expectArrayClose(await t.data(), generateAnchorsPacked(SSD300_VOC));
    t.dispose();
  });

  it('SSD300_COCO has 8732 and SSD512_VOC 24564', () => {
    expect(generateAnchorsPacked(SSD300_COCO).length).toBe(8732 * 4);
    expect(numAnchors(SSD512_VOC)).toBe(24564);
    expect(generateAnchorsPacked(SSD512_VOC).length).toBe(24564 * 4);
  });

  it('SSD300_COCO carries torchvision scales', () => {
    expect(SSD300_COCO.minSizes[0]).toBeCloseTo(21, 10);
    expect(SSD300_COCO.maxSizes[5]).toBeCloseTo(315, 10);
  });

  it('presets are frozen', () => {
    expect(Object.isFrozen(SSD300_VOC)).toBe(true);
    expect(Object.isFrozen(SSD300_VOC.aspectRatios[1])).toBe(true);
  });
});

describe('hand-computed anchors of SSD300_VOC', () => {
  const packed = generateAnchorsPacked(SSD300_VOC);

  it('first location of the 38x38 map', () => {
    const c = (0.5 * 8) / 300;
    expectArrayClose(anchor(packed, 0), [c, c, 0.1, 0.1]);
    expectArrayClose(anchor(packed, 1), [c, c, Math.sqrt(0.1 * 0.2), Math.sqrt(0.1 * 0.2)]);
    expectArrayClose(anchor(packed, 2), [c, c, 0.1 * r2, 0.1 / r2]);
    expectArrayClose(anchor(packed, 3), [c, c, 0.1 / r2, 0.1 * r2]);
  });

  it('x is the inner loop: the next location moves right, not down', () => {
    const c = (0.5 * 8) / 300;
    expectArrayClose(anchor(packed, 4), [(1.5 * 8) / 300, c, 0.1, 0.1]);
    expectArrayClose(anchor(packed, 4 * 38), [c, (1.5 * 8) / 300, 0.1, 0.1]);
  });

  it('the 1x1 map: the last four anchors, clipped to the unit square', () => {
    const s = 264 / 300;
    const base = 8732 - 4;
    expectArrayClose(anchor(packed, base), [0.5, 0.5, s, s]);
    expectArrayClose(anchor(packed, base + 1), [
      0.5,
      0.5,
      Math.sqrt(s * 1.05),
      Math.sqrt(s * 1.05),
    ]);
    expectArrayClose(anchor(packed, base + 2), [0.5, 0.5, 1, s / r2]); // s·√2 = 1.245 → 1
    expectArrayClose(anchor(packed, base + 3), [0.5, 0.5, s / r2, 1]);
  });

  it('centres are not clamped: the 10x10 map reaches 9.5·32/300 > 1 (as torchvision)', () => {
    const last10 = 38 * 38 * 4 + 19 * 19 * 6 + 10 * 10 * 6 - 6; // last location of the 10x10 map
    expectArrayClose(anchor(packed, last10).slice(0, 2), [(9.5 * 32) / 300, (9.5 * 32) / 300]);
  });

  it('without clipping the 1x1 map keeps s·√2', () => {
    const unclipped = generateAnchorsPacked({ ...SSD300_VOC, clip: false });
    expect(unclipped[(8732 - 2) * 4 + 2]).toBeCloseTo((264 / 300) * r2, 6);
  });
});

describe('golden: torchvision DefaultBoxGenerator', () => {
  it('all 8732 SSD300_VOC anchors agree within 1e-6', () => {
    const file = fileURLToPath(new URL('./fixtures/ssd300_voc_torchvision.f32', import.meta.url));
    const bytes = readFileSync(file);
    const golden = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    expect(golden.length).toBe(8732 * 4);
    expectArrayClose(generateAnchorsPacked(SSD300_VOC), golden, { atol: 1e-6 });
  });
});

describe('linearScales', () => {
  it('starts at s_min (k = 1), not 0.06 as the seed blog does (k = 0)', () => {
    const scales = linearScales({ sMin: 0.2, sMax: 0.9, numScales: 6 });
    expect(scales[0]).toBeCloseTo(0.2, 12);
    expect(scales[5]).toBeCloseTo(0.9, 12);
    expectArrayClose(scales, [0.2, 0.34, 0.48, 0.62, 0.76, 0.9], { atol: 1e-12 });
  });

  it('anchorConfigFromScales with the VOC scales reproduces SSD300_VOC', () => {
    const fromScales = anchorConfigFromScales({
      imageSize: 300,
      featureMapSizes: [38, 19, 10, 5, 3, 1],
      steps: [8, 16, 32, 64, 100, 300],
      scales: [0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05],
      aspectRatios: [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
    });
    expectArrayClose(generateAnchorsPacked(fromScales), generateAnchorsPacked(SSD300_VOC), {
      atol: 1e-6,
    });
  });
});

describe('invalid configs name the field', () => {
  const cases: [string, Partial<AnchorConfig>, string][] = [
    ['lengths', { steps: [8, 16] }, 'AnchorConfig.steps: has 2 entries but featureMapSizes has 6'],
    [
      'min size',
      { minSizes: [30, 0, 111, 162, 213, 264] },
      'AnchorConfig.minSizes[1]: expected a positive number, got 0',
    ],
    [
      'aspect ratio',
      { aspectRatios: [[2], [2, -3], [2, 3], [2, 3], [2], [2]] },
      'AnchorConfig.aspectRatios[1][1]: expected a positive number, got -3',
    ],
    [
      'feature map',
      { featureMapSizes: [38, 19, 10, 5, 3, 1.5] },
      'AnchorConfig.featureMapSizes[5]: expected a positive integer, got 1.5',
    ],
    ['image size', { imageSize: -300 }, 'AnchorConfig.imageSize[0]'],
  ];
  for (const [name, patch, message] of cases) {
    it(name, () => {
      const config = { ...SSD300_VOC, ...patch };
      expect(() => generateAnchorsPacked(config)).toThrow(AnchorConfigError);
      expect(() => generateAnchorsPacked(config)).toThrow(message);
    });
  }
});

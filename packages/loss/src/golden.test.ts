/**
 * Golden test against torchvision 0.14's `SSD.compute_loss` (float64), made by
 * tools/fixtures/matcher_loss_torchvision.py: 8 images × 8732 SSD300 anchors × 21
 * classes, targets from torchvision's SSDMatcher + BoxCoder, one image without boxes.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { multiboxLoss } from './index';

interface LossFixture {
  batch: number;
  numAnchors: number;
  numClasses: number;
  logits: { seed: number; scale: number; first: number[] };
  locPred: { seed: number; scale: number; first: number[] };
  negativesPerPositive: number;
  positives: [number, number, number, number, number, number, number][];
  localization: number;
  confidence: number;
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/torchvision_loss.json', import.meta.url), 'utf8'),
) as LossFixture;

/** float32((fmix32(i + seed) / 2³² − 0.5) · scale), as the fixture script's `hashed`. */
function hashed(count: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let h = (i + seed) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    out[i] = ((h >>> 0) / 2 ** 32 - 0.5) * scale;
  }
  return out;
}

describe('golden: torchvision SSD.compute_loss', () => {
  it('matches both terms within 1e-5 relative', async () => {
    const { batch: B, numAnchors: P, numClasses: C } = fixture;
    const logits = hashed(B * P * C, fixture.logits.seed, fixture.logits.scale);
    const loc = hashed(B * P * 4, fixture.locPred.seed, fixture.locPred.scale);
    expect(Array.from(logits.subarray(0, 4))).toEqual(fixture.logits.first);
    expect(Array.from(loc.subarray(0, 4))).toEqual(fixture.locPred.first);
    const locTargets = new Float32Array(B * P * 4);
    const labels = new Int32Array(B * P);
    for (const [b, p, label, ...target] of fixture.positives) {
      labels[b * P + p] = label;
      locTargets.set(target, (b * P + p) * 4);
    }
    // One image has no positives at all; it still contributes nothing but is allowed.
    expect(new Set(fixture.positives.map(([b]) => b)).size).toBe(B - 1);

    const predictions = {
      locPred: tf.tensor3d(loc, [B, P, 4]),
      logits: tf.tensor3d(logits, [B, P, C]),
    };
    const targets = {
      locTargets: tf.tensor3d(locTargets, [B, P, 4]),
      labels: tf.tensor2d(labels, [B, P], 'int32'),
    };
    const loss = multiboxLoss(predictions, targets, {
      negativesPerPositive: fixture.negativesPerPositive,
    });
    const localization = (await loss.localization.data())[0]!;
    const confidence = (await loss.confidence.data())[0]!;
    const total = (await loss.total.data())[0]!;
    expect(Math.abs(localization - fixture.localization) / fixture.localization).toBeLessThan(1e-5);
    expect(Math.abs(confidence - fixture.confidence) / fixture.confidence).toBeLessThan(1e-5);
    expect(Math.abs(total - (fixture.localization + fixture.confidence)) / total).toBeLessThan(
      1e-5,
    );
    tf.dispose([
      ...Object.values(predictions),
      ...Object.values(targets),
      loss.total,
      loss.localization,
      loss.confidence,
    ]);
  });
});

/**
 * multiboxLoss on the webgpu backend (in CI: Dawn on SwiftShader) against the
 * cpu backend: the loss terms, the hard-negative mask and the gradients with
 * respect to both predictions. Skipped without a WebGPU device, failing
 * instead when `CI` is set.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { expect, it } from 'vitest';
import {
  describeOnWebgpu,
  expectArrayClose,
  onBackend,
  testRng,
  webgpuForTests,
} from '@ssd/testing';
import { multiboxLoss } from './index';

const webgpu = await webgpuForTests();

const [B, P, C] = [2, 300, 5];

/** Predictions and targets with a few positives per image, some ignored anchors (−1). */
function problem() {
  const rng = testRng(11);
  const loc = Float32Array.from({ length: B * P * 4 }, () => rng() * 2 - 1);
  const logits = Float32Array.from({ length: B * P * C }, () => rng() * 4 - 2);
  const locTargets = Float32Array.from({ length: B * P * 4 }, () => rng() * 2 - 1);
  const labels = Int32Array.from({ length: B * P }, () => {
    const u = rng();
    return u < 0.04 ? 1 + Math.floor(rng() * (C - 1)) : u < 0.07 ? -1 : 0;
  });
  return { loc, logits, locTargets, labels };
}

async function lossAndGradients(data: ReturnType<typeof problem>) {
  const locPred = tf.variable(tf.tensor3d(data.loc, [B, P, 4]));
  const logits = tf.variable(tf.tensor3d(data.logits, [B, P, C]));
  const targets = {
    locTargets: tf.tensor3d(data.locTargets, [B, P, 4]),
    labels: tf.tensor2d(data.labels, [B, P], 'int32'),
  };
  const parts: tf.Tensor[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const loss = multiboxLoss({ locPred, logits }, targets, { negativesPerPositive: 3 });
    parts.push(tf.keep(loss.localization), tf.keep(loss.confidence));
    return loss.total as tf.Scalar;
  }, [locPred, logits]);
  const out = {
    total: (await value.data())[0]!,
    localization: (await parts[0]!.data())[0]!,
    confidence: (await parts[1]!.data())[0]!,
    dLoc: (await grads[locPred.name]!.data()) as Float32Array,
    dLogits: (await grads[logits.name]!.data()) as Float32Array,
  };
  tf.dispose([value, locPred, logits, targets.locTargets, targets.labels, ...parts]);
  tf.dispose(Object.values(grads));
  return out;
}

describeOnWebgpu(webgpu, 'multiboxLoss with hard negative mining on webgpu', () => {
  it('equals cpu: loss terms, the mined negatives, and both gradients', async () => {
    const data = problem();
    const cpu = await onBackend('cpu', () => lossAndGradients(data));
    const gpu = await onBackend('webgpu', () => lossAndGradients(data));
    expect(cpu.localization).toBeGreaterThan(0);
    for (const key of ['total', 'localization', 'confidence'] as const) {
      expect(Math.abs(gpu[key] - cpu[key]), key).toBeLessThan(1e-5 * Math.abs(cpu[key]) + 1e-6);
    }
    // Mining picks whole anchors: a logits row has a gradient iff its anchor is a
    // positive or a mined negative. The same anchors on both backends.
    const trained = (d: Float32Array) =>
      Array.from({ length: B * P }, (_, i) => d.subarray(i * C, (i + 1) * C).some((v) => v !== 0));
    const picked = trained(cpu.dLogits);
    expect(trained(gpu.dLogits)).toEqual(picked);
    const positives = data.labels.filter((l) => l > 0).length;
    expect(picked.filter(Boolean).length).toBe(positives * 4); // 3 negatives per positive
    for (const key of ['dLoc', 'dLogits'] as const) {
      const scale = cpu[key].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(scale).toBeGreaterThan(0);
      expectArrayClose(gpu[key], cpu[key], { atol: 1e-5 * scale, rtol: 1e-4 });
    }
  });
});

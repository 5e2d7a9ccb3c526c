import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { describe, expect, it } from 'vitest';
import { expectArrayClose, expectNoTensorLeak, testRng } from '@ssd/testing';
import { LossInputError, hardNegativeMask, multiboxLoss, smoothL1 } from './index';
import type { MultiboxLoss } from './index';

const LN2 = Math.log(2);
const softplus = (a: number) => Math.log(1 + Math.exp(a));

/** Builds inputs from nested arrays: loc [B][P][4], logits [B][P][C], labels [B][P]. */
function inputs(
  loc: number[][][],
  logits: number[][][],
  locTargets: number[][][],
  labels: number[][],
) {
  return {
    predictions: { locPred: tf.tensor3d(loc), logits: tf.tensor3d(logits) },
    targets: {
      locTargets: tf.tensor3d(locTargets),
      labels: tf.tensor2d(labels, undefined, 'int32'),
    },
  };
}

async function values(loss: MultiboxLoss) {
  const out = {
    total: (await loss.total.data())[0]!,
    localization: (await loss.localization.data())[0]!,
    confidence: (await loss.confidence.data())[0]!,
  };
  tf.dispose([loss.total, loss.localization, loss.confidence, loss.numPositives]);
  return out;
}

async function numPositivesOf(loss: MultiboxLoss): Promise<number> {
  const n = (await loss.numPositives.data())[0]!;
  tf.dispose([loss.total, loss.localization, loss.confidence, loss.numPositives]);
  return n;
}

const zeros = (p: number, c: number) =>
  Array.from({ length: p }, () => new Array<number>(c).fill(0));

describe('multiboxLoss, hand-computed', () => {
  it('smooth L1 with β = 1', async () => {
    const x = tf.tensor1d([-3, -1, -0.5, 0, 0.25, 1, 2.5]);
    expectArrayClose(await smoothL1(x).data(), [2.5, 0.5, 0.125, 0, 0.03125, 0.5, 2]);
  });

  it('one positive, three equal negatives: all mined', async () => {
    // Zero logits, 2 classes: every cross-entropy is log 2. k = 3·1 = 3 negatives.
    // Localization of the positive: smooth L1 of (0.5, −2, 0, 1) = 0.125 + 1.5 + 0 + 0.5.
    const { predictions, targets } = inputs(
      [
        [
          [0.5, -2, 0, 1],
          [9, 9, 9, 9],
          [0, 0, 0, 0],
          [0, 0, 0, 0],
        ],
      ],
      [zeros(4, 2)],
      [
        [
          [0, 0, 0, 0],
          [0, 0, 0, 0],
          [0, 0, 0, 0],
          [0, 0, 0, 0],
        ],
      ],
      [[1, 0, 0, 0]],
    );
    const loss = await values(multiboxLoss(predictions, targets));
    expect(loss.localization).toBeCloseTo(2.125, 6);
    expect(loss.confidence).toBeCloseTo(4 * LN2, 6);
    expect(loss.total).toBeCloseTo(2.125 + 4 * LN2, 6);
    const weighted = await values(multiboxLoss(predictions, targets, { locWeight: 0.5 }));
    expect(weighted.total).toBeCloseTo(0.5 * 2.125 + 4 * LN2, 6);
  });

  it('mines the negatives with the highest loss, negativesPerPositive per positive', async () => {
    // Negatives have background logit 0 and class logit a: CE = softplus(a).
    // a = 0, 1, 2, −1, 3 → with one positive and ratio 1, only a = 3 is mined; ratio 2: 3 and 2.
    const logits = [
      [
        [0, 0],
        [0, 0],
        [0, 1],
        [0, 2],
        [0, -1],
        [0, 3],
      ],
    ];
    const { predictions, targets } = inputs(
      [zeros(6, 4)],
      logits,
      [zeros(6, 4)],
      [[1, 0, 0, 0, 0, 0]],
    );
    const one = await values(multiboxLoss(predictions, targets, { negativesPerPositive: 1 }));
    expect(one.confidence).toBeCloseTo(LN2 + softplus(3), 5);
    const two = await values(multiboxLoss(predictions, targets, { negativesPerPositive: 2 }));
    expect(two.confidence).toBeCloseTo(LN2 + softplus(3) + softplus(2), 5);
    // Ratio 3 with 5 negatives: 3, 2, 1.
    const three = await values(multiboxLoss(predictions, targets));
    expect(three.confidence).toBeCloseTo(LN2 + softplus(3) + softplus(2) + softplus(1), 5);
    // Ratio 10: all 5 negatives (never more than there are).
    const all = await values(multiboxLoss(predictions, targets, { negativesPerPositive: 10 }));
    expect(all.confidence).toBeCloseTo(
      LN2 + [0, 1, 2, -1, 3].map(softplus).reduce((a, b) => a + b),
      5,
    );
  });

  it('mines per image and normalises by the positives of the whole batch', async () => {
    // Image 0: one positive (class 1, CE log 2), negatives CE softplus(2), softplus(1).
    // Image 1: two positives (class 2 of 3, logits 0 → CE log 3), one negative softplus-like.
    // Ratio 1: image 0 mines softplus(2); image 1 mines both of its negatives.
    const ln3 = Math.log(3);
    const { predictions, targets } = inputs(
      [zeros(4, 4), zeros(4, 4)],
      [
        [
          [0, 0, 0],
          [0, 0, 0],
          [0, 2, -50],
          [0, 1, -50],
        ],
        [
          [0, 0, 0],
          [0, 0, 0],
          [0, 0, 0],
          [0, 0, 0],
        ],
      ],
      [zeros(4, 4), zeros(4, 4)],
      [
        [1, -1, 0, 0],
        [2, 2, 0, 0],
      ],
    );
    const loss = await values(multiboxLoss(predictions, targets, { negativesPerPositive: 1 }));
    const ce = (logitsRow: number[], label: number) =>
      Math.log(logitsRow.reduce((s, v) => s + Math.exp(v), 0)) - logitsRow[label]!;
    const expected = (ce([0, 0, 0], 1) + ce([0, 2, -50], 0) + 2 * ln3 + 2 * ln3) / 3;
    expect(loss.confidence).toBeCloseTo(expected, 5);
  });

  it('a batch without positives gives a finite loss (0, or the mined minimum)', async () => {
    const { predictions, targets } = withoutPositives();
    const none = await values(multiboxLoss(predictions, targets));
    expect(none).toEqual({ total: 0, localization: 0, confidence: 0 });
    // minNegatives 5 → both negatives (the ignored anchor never), normaliser max(1, 0) = 1.
    const some = await values(multiboxLoss(predictions, targets, { minNegatives: 5 }));
    expect(some.confidence).toBeCloseTo(softplus(1) + softplus(2), 5);
  });

  it('ignored anchors contribute nothing, whatever their predictions', async () => {
    const base = [
      [
        [0.5, 0, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
      ],
    ];
    const wild = [
      [
        [0.5, 0, 0, 0],
        [1e30, -1e30, Infinity, 7],
        [0, 0, 0, 0],
      ],
    ];
    const labels = [[1, -1, 0]];
    const a = inputs(
      base,
      [
        [
          [0, 0],
          [0, 0],
          [0, 0],
        ],
      ],
      [zeros(3, 4)],
      labels,
    );
    const b = inputs(
      wild,
      [
        [
          [0, 0],
          [50, -50],
          [0, 0],
        ],
      ],
      [zeros(3, 4)],
      labels,
    );
    const la = await values(multiboxLoss(a.predictions, a.targets));
    const lb = await values(multiboxLoss(b.predictions, b.targets));
    expect(lb).toEqual(la);
    expect(Number.isFinite(lb.total)).toBe(true);
  });

  it('rejects wrong shapes, dtypes and options with LossInputError', () => {
    const { predictions, targets } = inputs([zeros(2, 4)], [zeros(2, 3)], [zeros(2, 4)], [[1, 0]]);
    expect(() => multiboxLoss({ ...predictions, logits: tf.zeros([1, 3, 3]) }, targets)).toThrow(
      'predictions.logits: expected shape [1, 2, numClasses ≥ 2], got shape [1, 3, 3]',
    );
    expect(() => multiboxLoss(predictions, { ...targets, labels: tf.zeros([1, 2]) })).toThrow(
      /targets.labels: expected dtype int32/,
    );
    expect(() => multiboxLoss({ ...predictions, locPred: tf.zeros([1, 2, 5]) }, targets)).toThrow(
      LossInputError,
    );
    expect(() => multiboxLoss(predictions, targets, { negativesPerPositive: -1 })).toThrow(
      /options.negativesPerPositive/,
    );
    expect(() => multiboxLoss(predictions, targets, { minNegatives: 0.5 })).toThrow(/minNegatives/);
    expect(() =>
      multiboxLoss(predictions, targets, { reduction: 'none' as unknown as 'sum' }),
    ).toThrow(/options.reduction: expected 'mean' or 'sum', got none/);
  });
});

describe("reduction: 'sum'", () => {
  it("gives 'mean' × positives, and numPositives counts the label > 0 anchors", async () => {
    const { locPred, logits, locTargets, labels } = smallCase(8);
    const p = { locPred, logits };
    const t = { locTargets, labels };
    const options = { negativesPerPositive: 2, locWeight: 0.7 };
    // Image 0: labels 1 and 3; image 1: label 2; anchor 5 of image 0 ignored.
    expect(await numPositivesOf(multiboxLoss(p, t, options))).toBe(3);
    expect(await numPositivesOf(multiboxLoss(p, t, { ...options, reduction: 'sum' }))).toBe(3);
    const mean = await values(multiboxLoss(p, t, options));
    const sum = await values(multiboxLoss(p, t, { ...options, reduction: 'sum' }));
    expect(mean.localization).toBeGreaterThan(0);
    expect(sum.localization).toBeCloseTo(mean.localization * 3, 5);
    expect(sum.confidence).toBeCloseTo(mean.confidence * 3, 5);
    expect(sum.total).toBeCloseTo(sum.confidence + 0.7 * sum.localization, 5);
    // The default is 'mean'.
    expect(await values(multiboxLoss(p, t, { ...options, reduction: 'mean' }))).toEqual(mean);
    tf.dispose([locPred, logits, locTargets, labels]);
  });

  it("the gradient of 'sum' is the gradient of 'mean' × positives", async () => {
    const { locPred, logits, locTargets, labels } = smallCase(9);
    const gradients = (reduction: 'mean' | 'sum') =>
      tf.grads((l: tf.Tensor, g: tf.Tensor) =>
        tf.tidy(
          () =>
            multiboxLoss({ locPred: l, logits: g }, { locTargets, labels }, { reduction }).total,
        ),
      )([locPred, logits]);
    const mean = gradients('mean');
    const sum = gradients('sum');
    for (let i = 0; i < 2; i++) {
      const scaled = Array.from(await mean[i]!.data(), (v) => v * 3);
      expectArrayClose(await sum[i]!.data(), scaled, { atol: 1e-6, rtol: 1e-5 });
    }
    tf.dispose([...mean, ...sum, locPred, logits, locTargets, labels]);
  });

  it('a batch without positives gives finite sums and numPositives 0', async () => {
    const { predictions, targets } = withoutPositives();
    expect(await numPositivesOf(multiboxLoss(predictions, targets, { reduction: 'sum' }))).toBe(0);
    const none = await values(multiboxLoss(predictions, targets, { reduction: 'sum' }));
    expect(none).toEqual({ total: 0, localization: 0, confidence: 0 });
    const some = await values(
      multiboxLoss(predictions, targets, { reduction: 'sum', minNegatives: 5 }),
    );
    expect(Number.isFinite(some.total)).toBe(true);
    expect(some.confidence).toBeCloseTo(softplus(1) + softplus(2), 5);
  });
});

/** One image, three anchors, no positive: two negatives (logits [0, 1], [0, 2]) and an ignored anchor. */
function withoutPositives() {
  return inputs(
    [zeros(3, 4)],
    [
      [
        [0, 1],
        [0, 2],
        [0, 3],
      ],
    ],
    [zeros(3, 4)],
    [[0, 0, -1]],
  );
}

/** A small random case: B = 2, P = 7, C = 4 with positives, negatives and an ignored anchor. */
function smallCase(seed: number) {
  const rng = testRng(seed);
  const B = 2;
  const P = 7;
  const C = 4;
  const locPred = tf.tensor3d(
    Float32Array.from({ length: B * P * 4 }, () => (rng() - 0.5) * 4),
    [B, P, 4],
  );
  const logits = tf.tensor3d(
    Float32Array.from({ length: B * P * C }, () => (rng() - 0.5) * 6),
    [B, P, C],
  );
  const locTargets = tf.tensor3d(
    Float32Array.from({ length: B * P * 4 }, () => (rng() - 0.5) * 2),
    [B, P, 4],
  );
  const labels = tf.tensor2d([1, 0, 0, 3, 0, -1, 0, 0, 2, 0, 0, 0, 0, 0], [B, P], 'int32');
  return { locPred, logits, locTargets, labels };
}

describe('gradients', () => {
  it('agree with central finite differences w.r.t. locPred and logits', async () => {
    const { locPred, logits, locTargets, labels } = smallCase(5);
    const f = (l: tf.Tensor, g: tf.Tensor) =>
      multiboxLoss({ locPred: l, logits: g }, { locTargets, labels }, { negativesPerPositive: 2 })
        .total;
    const [dLoc, dLogits] = tf.grads(f)([locPred, logits]);
    const analytic = [await dLoc!.data(), await dLogits!.data()];
    const eps = 1e-2;
    for (const [which, base] of [locPred, logits].entries()) {
      const flat = await base.data();
      const numeric = new Float32Array(flat.length);
      for (let i = 0; i < flat.length; i++) {
        const at = (delta: number) => {
          const moved = Float32Array.from(flat);
          moved[i]! += delta;
          return tf.tidy(() => {
            const t = tf.tensor(moved, base.shape);
            const total = which === 0 ? f(t, logits) : f(locPred, t);
            return total.dataSync()[0]!;
          });
        };
        numeric[i] = (at(eps) - at(-eps)) / (2 * eps);
      }
      expectArrayClose(analytic[which]!, numeric, { atol: 2e-3, rtol: 1e-2 });
    }
    // The ignored anchor (image 0, anchor 5) and the unmined negatives get no gradient.
    const g = analytic[1]!;
    expect(Array.from(g.subarray(5 * 4, 6 * 4)).every((v) => v === 0)).toBe(true);
    // Image 1 has 1 positive → 2 of its 6 negatives are mined; 4 anchors get none.
    let silent = 0;
    for (let p = 7; p < 14; p++) if (g.subarray(p * 4, p * 4 + 4).every((v) => v === 0)) silent++;
    expect(silent).toBe(4);
    tf.dispose([dLoc!, dLogits!, locPred, logits, locTargets, labels]);
  });

  it('no gradient reaches the mining mask', async () => {
    const { logits, labels } = smallCase(6);
    const loss = tf.tidy(() =>
      tf.neg(
        tf.sum(
          tf.mul(
            tf.cast(tf.oneHot(tf.maximum(labels, tf.scalar(0, 'int32')), 4), 'float32'),
            tf.logSoftmax(logits),
          ),
          2,
        ),
      ),
    );
    const mask = hardNegativeMask(loss, labels, { negativesPerPositive: 1 });
    // 2 positives in image 0 → its 2 hardest negatives; image 1: 1 positive → 1.
    const m = await mask.data();
    expect(Array.from(m).reduce((a, b) => a + b, 0)).toBe(3);
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(hardNegativeMask(x, labels), x)))(loss);
    // d/dx Σ mask(x)·x = mask: the mask itself contributes nothing.
    expect(Array.from(await grad.data())).toEqual(
      Array.from(await hardNegativeMask(loss, labels).data()),
    );
    const onlyMask = tf.grad((x: tf.Tensor) => tf.sum(hardNegativeMask(x, labels)))(loss);
    expect(Array.from(await onlyMask.data()).every((v) => v === 0)).toBe(true);
    tf.dispose([logits, labels, loss, mask, grad, onlyMask]);
  });

  it('leaks no tensor over 100 loss + gradient evaluations', async () => {
    const { locPred, logits, locTargets, labels } = smallCase(7);
    const vLoc = tf.variable(locPred);
    const vLogits = tf.variable(logits);
    await expectNoTensorLeak(() => {
      for (let i = 0; i < 100; i++) {
        const { value, grads } = tf.variableGrads(
          () => multiboxLoss({ locPred: vLoc, logits: vLogits }, { locTargets, labels }).total,
          [vLoc, vLogits],
        );
        tf.dispose([value, ...Object.values(grads)]);
      }
    });
    tf.dispose([vLoc, vLogits, locPred, logits, locTargets, labels]);
  });
});

import { describe, expect, it } from 'vitest';
import { averageGradients, combineScalars, combineWeights } from './averaging';
import { TrainerError } from './errors';

describe('combineWeights', () => {
  it('means: each worker weighs its rows', () => {
    expect(
      combineWeights([
        { rows: 3, normalizer: null },
        { rows: 2, normalizer: null },
      ]),
    ).toEqual({ coefficients: [0.6, 0.4], total: 5 });
  });

  it('sums: one division by the total normalizer (1 when it is 0)', () => {
    expect(
      combineWeights([
        { rows: 3, normalizer: 4 },
        { rows: 2, normalizer: 0 },
      ]),
    ).toEqual({ coefficients: [0.25, 0.25], total: 4 });
    expect(
      combineWeights([
        { rows: 3, normalizer: 0 },
        { rows: 2, normalizer: 0 },
      ]),
    ).toEqual({ coefficients: [1, 1], total: 0 });
  });

  it('rejects replicas that disagree', () => {
    expect(() =>
      combineWeights([
        { rows: 1, normalizer: 2 },
        { rows: 1, normalizer: null },
      ]),
    ).toThrow(TrainerError);
  });
});

describe('averageGradients', () => {
  it('weights and adds the workers’ gradients into `out`', () => {
    const out = new Float32Array(3).fill(99);
    const result = averageGradients(
      [Float32Array.of(1, 2, 3), Float32Array.of(3, -2, 1)],
      [0.25, 0.75],
      out,
    );
    expect(result).toBe(out);
    expect(Array.from(out)).toEqual([2.5, -1, 1.5]);
  });

  it('sums over slices / total positives = the whole batch’s mean gradient', () => {
    // Four rows with per-row gradient sums and positives; split 3 + 1 over two workers.
    const rows = [
      { grad: [1, -2], positives: 2 },
      { grad: [0.5, 4], positives: 0 },
      { grad: [3, 1], positives: 1 },
      { grad: [-1, 2], positives: 5 },
    ];
    const sumOf = (part: typeof rows) =>
      Float32Array.from([0, 1], (j) => part.reduce((a, r) => a + r.grad[j]!, 0));
    const positivesOf = (part: typeof rows) => part.reduce((a, r) => a + r.positives, 0);
    const parts = [rows.slice(0, 3), rows.slice(3)];
    const { coefficients, total } = combineWeights(
      parts.map((p) => ({ rows: p.length, normalizer: positivesOf(p) })),
    );
    expect(total).toBe(8);
    const out = averageGradients(parts.map(sumOf), coefficients, new Float32Array(2));
    expect(Array.from(out)).toEqual([3.5 / 8, 5 / 8]);
  });

  it('rejects mismatched inputs', () => {
    expect(() => averageGradients([], [], new Float32Array(1))).toThrow(TrainerError);
    expect(() => averageGradients([new Float32Array(2)], [1], new Float32Array(3))).toThrow(
      /a gradient of 2 values, expected 3/,
    );
  });
});

describe('combineScalars', () => {
  it('is the weighted sum of the workers’ values', () => {
    expect(combineScalars([2, 4], [0.25, 0.5])).toBe(2.5);
  });
});

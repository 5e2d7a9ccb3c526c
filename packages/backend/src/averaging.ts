/**
 * How the workers' results of one step combine into the whole batch's (pure
 * functions; the trainer calls them on its shared buffers).
 */
import { TrainerError } from './errors';

/** What one worker computed its step on. */
export interface WorkerShare {
  /** Rows of the batch this worker had. */
  rows: number;
  /**
   * null: its loss (and gradient) is a mean over its rows. A number: its loss is
   * an un-normalised sum and this is the sum's normalizer (SSD: its positives).
   */
  normalizer: number | null;
}

/**
 * The weight of each worker's loss and gradient in the batch objective:
 * `rows_w / Σ rows` when workers return means, `1 / Σ normalizer` (1 when that is
 * 0) when they return sums, so the batch is normalised once.
 * @returns `[numWorkers]` coefficients, and `total`: Σ rows or Σ normalizer.
 */
export function combineWeights(shares: readonly WorkerShare[]): {
  coefficients: number[];
  total: number;
} {
  const summed = shares.every((s) => s.normalizer != null);
  if (!summed && shares.some((s) => s.normalizer != null)) {
    throw new TrainerError('replicas disagree: some return a normalizer, some do not');
  }
  // Batch objective: Σ_w rows_w·mean_w / rows, or Σ_w sum_w / Σ_w normalizer_w.
  const total = shares.reduce((a, s) => a + (summed ? (s.normalizer as number) : s.rows), 0);
  const denominator = total > 0 ? total : 1;
  return { coefficients: shares.map((s) => (summed ? 1 : s.rows) / denominator), total };
}

/**
 * `out[j] = Σ_k coefficients[k] · gradients[k][j]`, accumulated in float32 in
 * worker order (the same order every step, so the result is reproducible).
 * @param gradients `[numWorkers]` arrays of `[numParameters]`.
 * @param out `[numParameters]`, overwritten (the shared average buffer).
 */
export function averageGradients(
  gradients: readonly Float32Array[],
  coefficients: readonly number[],
  out: Float32Array,
): Float32Array {
  if (gradients.length === 0 || gradients.length !== coefficients.length) {
    throw new TrainerError(
      `averageGradients: ${gradients.length} gradients, ${coefficients.length} coefficients`,
    );
  }
  const n = out.length;
  for (const g of gradients) {
    if (g.length !== n) {
      throw new TrainerError(`averageGradients: a gradient of ${g.length} values, expected ${n}`);
    }
  }
  const first = gradients[0]!;
  const c0 = coefficients[0]!;
  for (let j = 0; j < n; j++) out[j] = c0 * (first[j] as number);
  for (let k = 1; k < gradients.length; k++) {
    const g = gradients[k]!;
    const c = coefficients[k]!;
    for (let j = 0; j < n; j++) out[j] += c * (g[j] as number);
  }
  return out;
}

/** `Σ_k coefficients[k] · values[k]`: the batch's loss (or a metric) from the workers'. */
export function combineScalars(values: readonly number[], coefficients: readonly number[]): number {
  return values.reduce((a, v, k) => a + coefficients[k]! * v, 0);
}

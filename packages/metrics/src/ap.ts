/**
 * Average precision from a ranked precision/recall curve, the three ways
 * detection benchmarks define it.
 */

/** How a precision/recall curve becomes one number. */
export type ApMethod = 'voc07' | 'voc12';

/**
 * The 11 recall thresholds of VOC2007's AP, computed the way MATLAB's colon
 * operator builds `0:0.1:1` in the devkit's `for t=0:0.1:1`: the first half
 * as `0 + k*0.1`, the second as `1 - (10-k)*0.1`. This differs from `k/10` in
 * the last bit of one value only (the 4th is `0.30000000000000004`), which
 * matters when a recall is exactly 0.3.
 */
export const VOC07_RECALL_THRESHOLDS: readonly number[] = Object.freeze(
  Array.from({ length: 11 }, (_, k) => (k <= 5 ? k * 0.1 : 1 - (10 - k) * 0.1)),
);

/**
 * VOC2007 11-point interpolated AP (`VOCevaldet.m` of the 2007 devkit, and
 * the SSD paper): the mean over `t ∈ {0, 0.1, …, 1}` of the highest precision
 * at recall ≥ t (0 where the curve never reaches t).
 *
 * @param recall `[numPoints]`, non-decreasing, in ranked order.
 * @param precision `[numPoints]`, same order.
 */
export function voc07AveragePrecision(
  recall: ArrayLike<number>,
  precision: ArrayLike<number>,
): number {
  const n = recall.length;
  const suffixMax = suffixMaxima(precision);
  let ap = 0;
  let i = 0;
  for (const t of VOC07_RECALL_THRESHOLDS) {
    while (i < n && !(recall[i]! >= t)) i++;
    ap += (i < n ? suffixMax[i]! : 0) / 11;
  }
  return ap;
}

/**
 * VOC2010+ AP (`VOCap.m`): the area under the monotone precision envelope,
 * `mrec = [0, recall, 1]`, `mpre = [0, precision, 0]`, envelope from the
 * right, summed over the points where recall changes.
 *
 * @param recall `[numPoints]`, non-decreasing, in ranked order.
 * @param precision `[numPoints]`, same order.
 */
export function voc12AveragePrecision(
  recall: ArrayLike<number>,
  precision: ArrayLike<number>,
): number {
  const n = recall.length;
  const mrec = new Float64Array(n + 2);
  const mpre = new Float64Array(n + 2);
  for (let i = 0; i < n; i++) {
    mrec[i + 1] = recall[i]!;
    mpre[i + 1] = precision[i]!;
  }
  mrec[n + 1] = 1;
  for (let i = n; i >= 0; i--) if (mpre[i + 1]! > mpre[i]!) mpre[i] = mpre[i + 1]!;
  let ap = 0;
  for (let i = 1; i <= n + 1; i++) {
    if (mrec[i] !== mrec[i - 1]) ap += (mrec[i]! - mrec[i - 1]!) * mpre[i]!;
  }
  return ap;
}

/**
 * `voc07AveragePrecision` or `voc12AveragePrecision` by name.
 */
export function averagePrecision(
  recall: ArrayLike<number>,
  precision: ArrayLike<number>,
  method: ApMethod,
): number {
  return method === 'voc07'
    ? voc07AveragePrecision(recall, precision)
    : voc12AveragePrecision(recall, precision);
}

/**
 * COCO's 101 recall thresholds, as `np.linspace(0, 1, 101)` builds them in
 * pycocotools (`k * 0.01`, last one exactly 1).
 */
export const COCO_RECALL_THRESHOLDS: readonly number[] = Object.freeze(linspace(0, 1, 101));

/** COCO's IoU thresholds 0.5:0.05:0.95, as `np.linspace(0.5, 0.95, 10)`. */
export const COCO_IOU_THRESHOLDS: readonly number[] = Object.freeze(linspace(0.5, 0.95, 10));

/**
 * COCO 101-point AP (pycocotools `COCOeval.accumulate`): precision made
 * monotone from the right, then read at the first rank whose recall reaches
 * each of the 101 thresholds (0 beyond the end of the curve), and averaged.
 */
export function coco101AveragePrecision(
  recall: ArrayLike<number>,
  precision: ArrayLike<number>,
): number {
  const n = recall.length;
  const envelope = suffixMaxima(precision);
  let sum = 0;
  let i = 0;
  for (const r of COCO_RECALL_THRESHOLDS) {
    while (i < n && recall[i]! < r) i++;
    if (i >= n) break;
    sum += envelope[i]!;
  }
  return sum / COCO_RECALL_THRESHOLDS.length;
}

/** `numpy.linspace(start, stop, num)`: `k * step + start`, the last value exactly `stop`. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, k) => k * step + start);
  out[num - 1] = stop;
  return out;
}

/**
 * `out[i] = max(values[i..])`. Precisions are ≥ 0, so starting from 0 changes
 * nothing but ignores NaN entries, as MATLAB's `max` does.
 */
function suffixMaxima(values: ArrayLike<number>): Float64Array {
  const out = new Float64Array(values.length);
  let best = 0;
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i]!;
    if (v > best) best = v;
    out[i] = best;
  }
  return out;
}

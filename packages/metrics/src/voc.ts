import { boxIouPacked } from '@ssd/geometry';

import { averagePrecision } from './ap';
import { bucketStoreByClass, groundTruthOfClass, rankByScore, type EvaluationStore } from './store';
import type { ClassEvaluation } from './types';
import type { ResolvedOptions } from './validation';

/**
 * Pascal VOC evaluation of everything in `store`, per class, with the semantics of
 * the devkit's `VOCevaldet.m`: detections sorted by descending score (ties in
 * input order); each is assigned the ground-truth box of its class in its image
 * with the highest IoU (the first of equal ones); at IoU ≥ threshold it is a true
 * positive if that box is not difficult and not yet taken, a false positive if it
 * is already taken, and ignored if it is difficult; below the threshold (or with no
 * box) it is a false positive. Classes without non-difficult ground truth get AP
 * `null` and are left out of the mean.
 */
export function evaluateVoc(
  store: EvaluationStore,
  options: Pick<ResolvedOptions, 'classNames' | 'iouThreshold' | 'method' | 'iou'>,
): { map: number | null; classes: ClassEvaluation[] } {
  const { classNames, iouThreshold, method, iou } = options;
  const numObjectClasses = classNames.length;
  const { det: detClasses, gt: gtClasses } = bucketStoreByClass(store, numObjectClasses);
  const detBox = store.detBox.data;
  const detImage = store.detImage.data;
  const gtBox = store.gtBox.data;
  const gtDifficult = store.gtDifficult.data;
  // The devkit's `+1` for boxes given as inclusive integer pixel indices; float64,
  // as the devkit's MATLAB doubles.
  const iouOptions = { inclusive: iou === 'pixelInclusive' };

  const classes: ClassEvaluation[] = [];
  for (let c = 1; c <= numObjectClasses; c++) {
    const gt = groundTruthOfClass(store, gtClasses, c);
    const { from: gtFrom, rows: gtRows, start: gtStart, numGroundTruth } = gt;
    const taken = new Uint8Array(gt.to - gtFrom);

    const order = rankByScore(
      detClasses.rows.subarray(detClasses.offsets[c]!, detClasses.offsets[c + 1]!),
      store.detScore.data,
    );
    const nd = order.length;
    const precision = new Float64Array(nd);
    const recall = new Float64Array(nd);
    const scores = new Float64Array(nd);
    let tp = 0;
    let fp = 0;
    let points = 0;
    for (let r = 0; r < nd; r++) {
      const d = order[r]!;
      const image = detImage[d]!;
      let best = Number.NEGATIVE_INFINITY;
      let bestK = -1;
      for (let k = gtStart[image]!; k < gtStart[image + 1]!; k++) {
        const overlap = boxIouPacked(detBox, d, gtBox, gtRows[k]!, 'xyxy', iouOptions);
        // Strict: among equal overlaps the first box wins, as in the devkit. Boxes
        // that do not overlap (IoU 0) never reach the threshold (> 0).
        if (overlap > best) {
          best = overlap;
          bestK = k;
        }
      }
      if (best >= iouThreshold) {
        if (gtDifficult[gtRows[bestK]!]) continue; // neither TP nor FP
        if (taken[bestK - gtFrom]) fp++;
        else {
          taken[bestK - gtFrom] = 1;
          tp++;
        }
      } else fp++;
      precision[points] = tp / (tp + fp);
      recall[points] = tp / numGroundTruth;
      scores[points] = store.detScore.data[d]!;
      points++;
    }
    const hasGroundTruth = numGroundTruth > 0;
    const curveLength = hasGroundTruth ? points : 0;
    classes.push({
      classId: c,
      name: classNames[c - 1]!,
      ap: hasGroundTruth
        ? averagePrecision(recall.subarray(0, points), precision.subarray(0, points), method)
        : null,
      numGroundTruth,
      numDifficult: gt.to - gtFrom - numGroundTruth,
      numDetections: nd,
      truePositives: tp,
      falsePositives: fp,
      precision: precision.slice(0, curveLength),
      recall: recall.slice(0, curveLength),
      scores: scores.slice(0, curveLength),
    });
  }
  const counted = classes.filter((k) => k.ap !== null);
  const map =
    counted.length === 0 ? null : counted.reduce((sum, k) => sum + k.ap!, 0) / counted.length;
  return { map, classes };
}

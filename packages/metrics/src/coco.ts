/**
 * COCO-style AP@[0.5:0.95] with pycocotools' `COCOeval` semantics (bbox,
 * area range "all"), on the same stored detections:
 * - per image and class, detections sorted by score (stable) and cut to
 *   `maxDetections`; ground truths ordered non-ignored first;
 * - for each IoU threshold, each detection takes the best-IoU ground truth
 *   not yet taken (IoU ≥ threshold; a later box wins an exact tie), preferring
 *   a non-ignored box: once it holds one, ignored boxes are not considered;
 * - a detection on an ignored box is ignored; `difficult` boxes are COCO's
 *   ignored (non-crowd) boxes;
 * - per class over all images: precision `tp / (tp + fp + eps)`, made
 *   monotone, read at 101 recall points; the class's AP is the mean over the
 *   10 IoU thresholds; classes without non-ignored ground truth are excluded.
 * IoU is continuous (no `+1`), as in COCO.
 */
import { COCO_IOU_THRESHOLDS, coco101AveragePrecision } from './ap';
import { bucketByClass, groupByImage, rankByScore, type EvaluationStore } from './store';
import type { CocoEvaluation } from './types';

/** `np.spacing(1)`, pycocotools' guard in `tp / (fp + tp + eps)`. */
const EPS = 2.220446049250313e-16;

export function evaluateCoco(
  store: EvaluationStore,
  classNames: readonly string[],
  maxDetections: number,
): CocoEvaluation {
  const numClasses = classNames.length;
  const numImages = store.imageIds.length;
  const numThresholds = COCO_IOU_THRESHOLDS.length;
  const detClasses = bucketByClass(store.detClass.data, store.detClass.length, numClasses);
  const gtClasses = bucketByClass(store.gtClass.data, store.gtClass.length, numClasses);
  const detBox = store.detBox.data;
  const gtBox = store.gtBox.data;
  const gtDifficult = store.gtDifficult.data;
  const score = store.detScore.data;

  const classes: CocoEvaluation['classes'] = [];
  const perThreshold = new Float64Array(numThresholds);
  const sums = new Float64Array(numThresholds);
  let counted = 0;
  for (let c = 1; c <= numClasses; c++) {
    const gtFrom = gtClasses.offsets[c]!;
    const gtTo = gtClasses.offsets[c + 1]!;
    const gtRows = gtClasses.rows;
    const gtStart = groupByImage(gtRows, gtFrom, gtTo, store.gtImage.data, numImages);
    const detFrom = detClasses.offsets[c]!;
    const detTo = detClasses.offsets[c + 1]!;
    const detRows = detClasses.rows;
    const detStart = groupByImage(detRows, detFrom, detTo, store.detImage.data, numImages);
    let numGroundTruth = 0;
    for (let k = gtFrom; k < gtTo; k++) if (!gtDifficult[gtRows[k]!]) numGroundTruth++;
    if (numGroundTruth === 0) {
      classes.push({ classId: c, name: classNames[c - 1]!, ap: null, ap50: null, ap75: null });
      continue;
    }

    // Kept detections of the class (image order, then score order within an image)
    // and, per threshold, whether each matched (tp) or was ignored.
    const kept: number[] = [];
    const matched: Uint8Array[] = [];
    const ignored: Uint8Array[] = [];
    for (let image = 0; image < numImages; image++) {
      const dets = rankByScore(
        detRows.subarray(detStart[image]!, detStart[image + 1]!),
        score,
      ).subarray(0, maxDetections);
      if (dets.length === 0) continue;
      // Ground truths of the image, non-ignored first (stable).
      const gts: number[] = [];
      for (let k = gtStart[image]!; k < gtStart[image + 1]!; k++) {
        if (!gtDifficult[gtRows[k]!]) gts.push(gtRows[k]!);
      }
      const firstIgnored = gts.length;
      for (let k = gtStart[image]!; k < gtStart[image + 1]!; k++) {
        if (gtDifficult[gtRows[k]!]) gts.push(gtRows[k]!);
      }
      const ious = pairwiseIou(dets, gts, detBox, gtBox);
      const dm = new Uint8Array(numThresholds * dets.length);
      const di = new Uint8Array(numThresholds * dets.length);
      for (let t = 0; t < numThresholds; t++) {
        const taken = new Uint8Array(gts.length);
        for (let i = 0; i < dets.length; i++) {
          let best = Math.min(COCO_IOU_THRESHOLDS[t]!, 1 - 1e-10);
          let m = -1;
          for (let j = 0; j < gts.length; j++) {
            if (taken[j]) continue;
            if (m > -1 && m < firstIgnored && j >= firstIgnored) break;
            const overlap = ious[i * gts.length + j]!;
            if (overlap < best) continue;
            best = overlap;
            m = j;
          }
          if (m === -1) continue;
          taken[m] = 1;
          dm[t * dets.length + i] = 1;
          di[t * dets.length + i] = m >= firstIgnored ? 1 : 0;
        }
      }
      for (let i = 0; i < dets.length; i++) {
        kept.push(dets[i]!);
        const mm = new Uint8Array(numThresholds);
        const ii = new Uint8Array(numThresholds);
        for (let t = 0; t < numThresholds; t++) {
          mm[t] = dm[t * dets.length + i]!;
          ii[t] = di[t * dets.length + i]!;
        }
        matched.push(mm);
        ignored.push(ii);
      }
    }

    // Across images: stable sort by descending score of the concatenation.
    const position = new Float64Array(kept.length);
    for (let p = 0; p < kept.length; p++) position[p] = -score[kept[p]!]!;
    const order = Int32Array.from(kept.keys());
    order.sort((a, b) => position[a]! - position[b]! || a - b);

    const recall = new Float64Array(order.length);
    const precision = new Float64Array(order.length);
    for (let t = 0; t < numThresholds; t++) {
      let tp = 0;
      let fp = 0;
      let n = 0;
      for (const p of order) {
        if (ignored[p]![t]) continue;
        if (matched[p]![t]) tp++;
        else fp++;
        recall[n] = tp / numGroundTruth;
        precision[n] = tp / (fp + tp + EPS);
        n++;
      }
      perThreshold[t] = coco101AveragePrecision(recall.subarray(0, n), precision.subarray(0, n));
      sums[t]! += perThreshold[t]!;
    }
    counted++;
    classes.push({
      classId: c,
      name: classNames[c - 1]!,
      ap: mean(perThreshold),
      ap50: perThreshold[0]!,
      ap75: perThreshold[5]!,
    });
  }
  return {
    ap: counted === 0 ? null : mean(sums) / counted,
    ap50: counted === 0 ? null : sums[0]! / counted,
    ap75: counted === 0 ? null : sums[5]! / counted,
    maxDetections,
    classes,
  };
}

function mean(values: Float64Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** `[dets.length * gts.length]` continuous IoU, as pycocotools' `bbIou` (non-crowd). */
function pairwiseIou(
  dets: ArrayLike<number>,
  gts: readonly number[],
  detBox: Float64Array,
  gtBox: Float64Array,
): Float64Array {
  const out = new Float64Array(dets.length * gts.length);
  for (let i = 0; i < dets.length; i++) {
    const d = dets[i]! * 4;
    const areaD = (detBox[d + 2]! - detBox[d]!) * (detBox[d + 3]! - detBox[d + 1]!);
    for (let j = 0; j < gts.length; j++) {
      const g = gts[j]! * 4;
      const w = Math.min(detBox[d + 2]!, gtBox[g + 2]!) - Math.max(detBox[d]!, gtBox[g]!);
      if (w <= 0) continue;
      const h = Math.min(detBox[d + 3]!, gtBox[g + 3]!) - Math.max(detBox[d + 1]!, gtBox[g + 1]!);
      if (h <= 0) continue;
      const inter = w * h;
      const areaG = (gtBox[g + 2]! - gtBox[g]!) * (gtBox[g + 3]! - gtBox[g + 1]!);
      out[i * gts.length + j] = inter / (areaD + areaG - inter);
    }
  }
  return out;
}

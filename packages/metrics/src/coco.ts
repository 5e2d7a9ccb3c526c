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
import { pairwiseIouPacked } from '@ssd/geometry';

import { COCO_IOU_THRESHOLDS, coco101AveragePrecision } from './ap';
import {
  bucketStoreByClass,
  groundTruthOfClass,
  groupByImage,
  rankByScore,
  type EvaluationStore,
} from './store';
import type { CocoEvaluation } from './types';

/** `np.spacing(1)`, pycocotools' guard in `tp / (fp + tp + eps)`. */
const EPS = 2.220446049250313e-16;

export function evaluateCoco(
  store: EvaluationStore,
  classNames: readonly string[],
  maxDetections: number,
): CocoEvaluation {
  const numObjectClasses = classNames.length;
  const numImages = store.imageIds.length;
  const numThresholds = COCO_IOU_THRESHOLDS.length;
  const { det: detClasses, gt: gtClasses } = bucketStoreByClass(store, numObjectClasses);
  const detBox = store.detBox.data;
  const gtBox = store.gtBox.data;
  const gtDifficult = store.gtDifficult.data;
  const score = store.detScore.data;

  const classes: CocoEvaluation['classes'] = [];
  const perThreshold = new Float64Array(numThresholds);
  const sums = new Float64Array(numThresholds);
  let counted = 0;
  const scratch = new Scratch();
  for (let c = 1; c <= numObjectClasses; c++) {
    const {
      rows: gtRows,
      start: gtStart,
      numGroundTruth,
    } = groundTruthOfClass(store, gtClasses, c);
    const detFrom = detClasses.offsets[c]!;
    const detTo = detClasses.offsets[c + 1]!;
    const detRows = detClasses.rows;
    const detStart = groupByImage(detRows, detFrom, detTo, store.detImage.data, numImages);
    if (numGroundTruth === 0) {
      classes.push({ classId: c, name: classNames[c - 1]!, ap: null, ap50: null, ap75: null });
      continue;
    }

    // Kept detections of the class (image order, then score order within an image),
    // with per-threshold flags: bit 0 matched, bit 1 matched to an ignored box.
    const kept = new Int32Array(detTo - detFrom);
    const flags = new Uint8Array((detTo - detFrom) * numThresholds);
    let numKept = 0;
    for (let image = 0; image < numImages; image++) {
      const from = detStart[image]!;
      const to = detStart[image + 1]!;
      if (from === to) continue;
      // This image's detections by descending score (stable), cut to maxDetections.
      const dets = scratch.dets(to - from);
      for (let k = from; k < to; k++) {
        const row = detRows[k]!;
        const key = score[row]!;
        let j = k - from - 1;
        while (j >= 0 && score[dets[j]!]! < key) {
          dets[j + 1] = dets[j]!;
          j--;
        }
        dets[j + 1] = row;
      }
      const numDets = Math.min(to - from, maxDetections);
      // Ground truths of the image, non-ignored first (stable).
      const numGts = gtStart[image + 1]! - gtStart[image]!;
      const gts = scratch.gts(numGts);
      let firstIgnored = 0;
      for (let k = gtStart[image]!; k < gtStart[image + 1]!; k++) {
        if (!gtDifficult[gtRows[k]!]) gts[firstIgnored++] = gtRows[k]!;
      }
      for (let k = gtStart[image]!, g = firstIgnored; k < gtStart[image + 1]!; k++) {
        if (gtDifficult[gtRows[k]!]) gts[g++] = gtRows[k]!;
      }
      // Continuous float64 IoU, as pycocotools' `bbIou` (non-crowd).
      const ious = scratch.ious(numDets * numGts);
      pairwiseIouPacked(
        scratch.gather(dets, numDets, detBox, 0),
        scratch.gather(gts, numGts, gtBox, 1),
        'xyxy',
        { out: ious },
      );
      const taken = scratch.taken(numGts);
      for (let t = 0; t < numThresholds; t++) {
        taken.fill(0, 0, numGts);
        for (let i = 0; i < numDets; i++) {
          let best = Math.min(COCO_IOU_THRESHOLDS[t]!, 1 - 1e-10);
          let m = -1;
          for (let j = 0; j < numGts; j++) {
            if (taken[j]) continue;
            if (m > -1 && m < firstIgnored && j >= firstIgnored) break;
            const overlap = ious[i * numGts + j]!;
            if (overlap < best) continue;
            best = overlap;
            m = j;
          }
          if (m === -1) continue;
          taken[m] = 1;
          flags[(numKept + i) * numThresholds + t] = m >= firstIgnored ? 3 : 1;
        }
      }
      for (let i = 0; i < numDets; i++) kept[numKept++] = dets[i]!;
    }

    // Across images: stable sort of the concatenation by descending score.
    const keptScore = new Float64Array(numKept);
    for (let p = 0; p < numKept; p++) keptScore[p] = score[kept[p]!]!;
    const order = rankByScore(positions(numKept), keptScore);

    const recall = new Float64Array(numKept);
    const precision = new Float64Array(numKept);
    for (let t = 0; t < numThresholds; t++) {
      let tp = 0;
      let fp = 0;
      let n = 0;
      for (let r = 0; r < numKept; r++) {
        const flag = flags[order[r]! * numThresholds + t]!;
        if (flag & 2) continue; // on an ignored box
        if (flag & 1) tp++;
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

/** `0, 1, …, n - 1`. */
function positions(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/** Reusable buffers for the per-image work, grown on demand. */
class Scratch {
  private detBuffer = new Int32Array(256);
  private gtBuffer = new Int32Array(64);
  private iouBuffer = new Float64Array(4096);
  private takenBuffer = new Uint8Array(64);
  dets(n: number): Int32Array {
    if (n > this.detBuffer.length) this.detBuffer = new Int32Array(n * 2);
    return this.detBuffer;
  }
  gts(n: number): Int32Array {
    if (n > this.gtBuffer.length) this.gtBuffer = new Int32Array(n * 2);
    return this.gtBuffer;
  }
  private boxBuffers = [new Float64Array(1024), new Float64Array(256)];
  /** `[n * n']` view of the IoU buffer. */
  ious(n: number): Float64Array {
    if (n > this.iouBuffer.length) this.iouBuffer = new Float64Array(n * 2);
    return this.iouBuffer.subarray(0, n);
  }
  /** Boxes `rows[0..n)` of `boxes` packed `[n * 4]` into box buffer `which`. */
  gather(rows: Int32Array, n: number, boxes: Float64Array, which: 0 | 1): Float64Array {
    let buffer = this.boxBuffers[which]!;
    if (n * 4 > buffer.length) buffer = this.boxBuffers[which] = new Float64Array(n * 8);
    for (let i = 0; i < n; i++) buffer.set(boxes.subarray(rows[i]! * 4, rows[i]! * 4 + 4), i * 4);
    return buffer.subarray(0, n * 4);
  }
  taken(n: number): Uint8Array {
    if (n > this.takenBuffer.length) this.takenBuffer = new Uint8Array(n * 2);
    return this.takenBuffer;
  }
}

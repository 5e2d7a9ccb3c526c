import { averagePrecision, type ApMethod } from './ap';
import { evaluateCoco } from './coco';
import { EvaluationInputError, EvaluationOptionError } from './errors';
import { bucketByClass, EvaluationStore, groupByImage, rankByScore } from './store';
import type {
  ClassEvaluation,
  EvaluationDetection,
  EvaluationOptions,
  EvaluationResult,
  GroundTruth,
  IouMode,
} from './types';

interface ResolvedOptions {
  classNames: readonly string[];
  iouThreshold: number;
  method: ApMethod;
  iou: IouMode;
  cocoMaxDetections: number | null;
}

/**
 * Streaming Pascal VOC evaluation: `add` each image's detections and ground
 * truth during the evaluation loop, `compute` at the end (or at any point;
 * it does not consume what was added).
 *
 * ```ts
 * const evaluator = new DetectionEvaluator({ classNames: VOC_CLASSES });
 * for (const sample of testSet) evaluator.add(sample.id, await detect(sample), sample);
 * const { map, classes } = evaluator.compute();
 * ```
 */
export class DetectionEvaluator {
  private readonly options: ResolvedOptions;
  private store = new EvaluationStore();
  private readonly seen = new Set<string>();

  constructor(options: EvaluationOptions) {
    this.options = resolveOptions(options);
  }

  /** Images added so far. */
  get numImages(): number {
    return this.store.imageIds.length;
  }

  /**
   * Adds one image. Everything is validated and copied; nothing is kept
   * by reference. Throws `EvaluationInputError` (and adds nothing) on a
   * repeated `imageId`, a class outside 1..C, a non-finite score or
   * coordinate, an inverted box or mismatched ground-truth lengths.
   *
   * @param detections this image's detections, any order, any classes.
   * @param groundTruth this image's boxes `[G * 4]` xyxy (same pixel frame
   *   as the detections), labels `[G]`, difficult flags `[G]`.
   */
  add(imageId: string, detections: readonly EvaluationDetection[], groundTruth: GroundTruth): void {
    const id = String(imageId);
    if (this.seen.has(id)) {
      throw new EvaluationInputError(id, 'imageId', id, 'an image not added before');
    }
    const numClasses = this.options.classNames.length;
    const gt = validateGroundTruth(id, groundTruth, numClasses);
    validateDetections(id, detections, numClasses);

    const s = this.store;
    const image = s.imageIds.length;
    s.imageIds.push(id);
    this.seen.add(id);
    for (let g = 0; g < gt.count; g++) {
      s.gtImage.push(image);
      s.gtClass.push(gt.labels[g]!);
      s.gtDifficult.push(gt.difficult !== undefined && gt.difficult[g] ? 1 : 0);
      for (let k = 0; k < 4; k++) s.gtBox.push(gt.boxes[g * 4 + k]!);
    }
    const n = detections.length;
    s.detImage.reserve(n);
    s.detClass.reserve(n);
    s.detScore.reserve(n);
    s.detBox.reserve(n * 4);
    const detBox = s.detBox.data;
    let o = s.detBox.length;
    for (let i = 0; i < n; i++) {
      const d = detections[i]!;
      s.detImage.data[s.detImage.length++] = image;
      s.detClass.data[s.detClass.length++] = d.classId;
      s.detScore.data[s.detScore.length++] = d.score;
      detBox[o++] = d.box.xMin;
      detBox[o++] = d.box.yMin;
      detBox[o++] = d.box.xMax;
      detBox[o++] = d.box.yMax;
    }
    s.detBox.length = o;
  }

  /** Forgets every image added. */
  reset(): void {
    this.store = new EvaluationStore();
    this.seen.clear();
  }

  /**
   * Evaluates everything added so far. `overrides` re-runs the same data with
   * another method, threshold or IoU (e.g. both VOC07 and VOC12 numbers).
   */
  compute(
    overrides: Partial<Pick<EvaluationOptions, 'iouThreshold' | 'method' | 'iou' | 'coco'>> = {},
  ): EvaluationResult {
    const options =
      Object.keys(overrides).length === 0
        ? this.options
        : resolveOptions({ ...this.optionsAsInput(), ...overrides });
    return evaluateStore(this.store, options);
  }

  private optionsAsInput(): EvaluationOptions {
    const { classNames, iouThreshold, method, iou, cocoMaxDetections } = this.options;
    return {
      classNames,
      iouThreshold,
      method,
      iou,
      coco: cocoMaxDetections === null ? false : { maxDetections: cocoMaxDetections },
    };
  }
}

/**
 * One-shot Pascal VOC evaluation: `detections[i]` and `groundTruths[i]`
 * belong to image `i` (named in errors by the ground truth's `id` when it has
 * one, as a `Sample` does, else by `i`).
 *
 * Semantics of the devkit's `VOCevaldet.m`, per class: detections sorted by
 * descending score (ties in input order); each is assigned the ground-truth
 * box of its class in its image with the highest IoU; at IoU ≥ threshold it
 * is a true positive if that box is not difficult and not yet taken, a false
 * positive if it is already taken, and ignored if it is difficult; below the
 * threshold (or with no box) it is a false positive.
 */
export function evaluateDetections(
  detections: readonly (readonly EvaluationDetection[])[],
  groundTruths: readonly GroundTruth[],
  options: EvaluationOptions,
): EvaluationResult {
  if (detections.length !== groundTruths.length) {
    throw new EvaluationOptionError(
      'detections',
      detections,
      `one list per image, as many as groundTruths (${groundTruths.length})`,
    );
  }
  const evaluator = new DetectionEvaluator(options);
  for (let i = 0; i < detections.length; i++) {
    const truth = groundTruths[i]!;
    const id = (truth as { id?: unknown } | null)?.id;
    evaluator.add(typeof id === 'string' ? id : String(i), detections[i]!, truth);
  }
  return evaluator.compute();
}

function resolveOptions(options: EvaluationOptions): ResolvedOptions {
  if (options == null || typeof options !== 'object') {
    throw new EvaluationOptionError('options', options, 'an object with classNames');
  }
  const {
    classNames,
    iouThreshold = 0.5,
    method = 'voc07',
    iou = 'continuous',
    coco = false,
  } = options;
  if (!Array.isArray(classNames) || classNames.length === 0) {
    throw new EvaluationOptionError('classNames', classNames, 'a non-empty array of names');
  }
  if (!(typeof iouThreshold === 'number' && iouThreshold > 0 && iouThreshold <= 1)) {
    throw new EvaluationOptionError('iouThreshold', iouThreshold, 'a number in (0, 1]');
  }
  if (method !== 'voc07' && method !== 'voc12') {
    throw new EvaluationOptionError('method', method, "'voc07' or 'voc12'");
  }
  if (iou !== 'continuous' && iou !== 'pixelInclusive') {
    throw new EvaluationOptionError('iou', iou, "'continuous' or 'pixelInclusive'");
  }
  let cocoMaxDetections: number | null = null;
  if (coco === true) cocoMaxDetections = 100;
  else if (coco && typeof coco === 'object') {
    cocoMaxDetections = coco.maxDetections ?? 100;
    if (!(Number.isInteger(cocoMaxDetections) && cocoMaxDetections > 0)) {
      throw new EvaluationOptionError(
        'coco.maxDetections',
        cocoMaxDetections,
        'a positive integer',
      );
    }
  } else if (coco !== false) {
    throw new EvaluationOptionError('coco', coco, 'a boolean or { maxDetections }');
  }
  return { classNames: [...classNames], iouThreshold, method, iou, cocoMaxDetections };
}

function validateGroundTruth(
  imageId: string,
  groundTruth: GroundTruth,
  numClasses: number,
): {
  count: number;
  boxes: ArrayLike<number>;
  labels: ArrayLike<number>;
  difficult?: ArrayLike<number>;
} {
  if (groundTruth == null || typeof groundTruth !== 'object') {
    throw new EvaluationInputError(
      imageId,
      'groundTruth',
      groundTruth,
      '{ boxes, labels, difficult }',
    );
  }
  const { boxes, labels, difficult } = groundTruth;
  if (boxes == null || typeof boxes.length !== 'number' || boxes.length % 4 !== 0) {
    throw new EvaluationInputError(imageId, 'groundTruth.boxes', boxes, '[G * 4] xyxy numbers');
  }
  const count = boxes.length / 4;
  if (labels == null || labels.length !== count) {
    throw new EvaluationInputError(imageId, 'groundTruth.labels', labels, `[G] = ${count} labels`);
  }
  if (difficult != null && difficult.length !== count) {
    throw new EvaluationInputError(
      imageId,
      'groundTruth.difficult',
      difficult,
      `[G] = ${count} flags`,
    );
  }
  for (let g = 0; g < count; g++) {
    const label = labels[g]!;
    if (!(Number.isInteger(label) && label >= 1 && label <= numClasses)) {
      throw new EvaluationInputError(
        imageId,
        `groundTruth.labels[${g}]`,
        label,
        `an integer class id in 1..${numClasses}`,
      );
    }
    checkBox(
      imageId,
      `groundTruth.boxes[${g * 4}..${g * 4 + 3}]`,
      boxes[g * 4]!,
      boxes[g * 4 + 1]!,
      boxes[g * 4 + 2]!,
      boxes[g * 4 + 3]!,
    );
  }
  return difficult == null ? { count, boxes, labels } : { count, boxes, labels, difficult };
}

function validateDetections(
  imageId: string,
  detections: readonly EvaluationDetection[],
  numClasses: number,
): void {
  if (!Array.isArray(detections)) {
    throw new EvaluationInputError(imageId, 'detections', detections, 'an array of detections');
  }
  // Hot path (~1M detections per VOC07 test run): no allocation unless something is wrong.
  for (let i = 0; i < detections.length; i++) {
    const d = detections[i]!;
    if (d == null || typeof d !== 'object' || d.box == null || typeof d.box !== 'object') {
      throw new EvaluationInputError(imageId, `detections[${i}]`, d, '{ box, classId, score }');
    }
    const { classId, score } = d;
    if (!(Number.isInteger(classId) && classId >= 1 && classId <= numClasses)) {
      throw new EvaluationInputError(
        imageId,
        `detections[${i}].classId`,
        classId,
        `an integer class id in 1..${numClasses}`,
      );
    }
    if (!(typeof score === 'number' && Number.isFinite(score))) {
      throw new EvaluationInputError(imageId, `detections[${i}].score`, score, 'a finite number');
    }
    const { xMin, yMin, xMax, yMax } = d.box;
    if (!isBox(xMin, yMin, xMax, yMax)) {
      boxError(imageId, `detections[${i}].box`, xMin, yMin, xMax, yMax);
    }
  }
}

/** Finite corners with `xMin <= xMax`, `yMin <= yMax` (comparisons are false for NaN). */
function isBox(xMin: number, yMin: number, xMax: number, yMax: number): boolean {
  return (
    typeof xMin === 'number' &&
    typeof yMin === 'number' &&
    typeof xMax === 'number' &&
    typeof yMax === 'number' &&
    xMin <= xMax &&
    yMin <= yMax &&
    Number.isFinite(xMin) &&
    Number.isFinite(yMin) &&
    Number.isFinite(xMax) &&
    Number.isFinite(yMax)
  );
}

function checkBox(
  imageId: string,
  field: string,
  xMin: number,
  yMin: number,
  xMax: number,
  yMax: number,
): void {
  if (!isBox(xMin, yMin, xMax, yMax)) boxError(imageId, field, xMin, yMin, xMax, yMax);
}

function boxError(
  imageId: string,
  field: string,
  xMin: number,
  yMin: number,
  xMax: number,
  yMax: number,
): never {
  const values = [xMin, yMin, xMax, yMax];
  const names = ['xMin', 'yMin', 'xMax', 'yMax'];
  for (let k = 0; k < 4; k++) {
    const v = values[k];
    if (!(typeof v === 'number' && Number.isFinite(v))) {
      throw new EvaluationInputError(imageId, `${field} ${names[k]}`, v, 'a finite number');
    }
  }
  throw new EvaluationInputError(
    imageId,
    field,
    `[${values.join(', ')}]`,
    'xMin <= xMax and yMin <= yMax',
  );
}

/** The devkit's matching and AP for every class. */
function evaluateStore(store: EvaluationStore, options: ResolvedOptions): EvaluationResult {
  const { classNames, iouThreshold, method, iou } = options;
  const numClasses = classNames.length;
  const numImages = store.imageIds.length;
  const detClasses = bucketByClass(store.detClass.data, store.detClass.length, numClasses);
  const gtClasses = bucketByClass(store.gtClass.data, store.gtClass.length, numClasses);
  const detBox = store.detBox.data;
  const detImage = store.detImage.data;
  const gtBox = store.gtBox.data;
  const gtDifficult = store.gtDifficult.data;
  // The devkit's `+1` for boxes given as inclusive integer pixel indices.
  const extra = iou === 'pixelInclusive' ? 1 : 0;

  const classes: ClassEvaluation[] = [];
  for (let c = 1; c <= numClasses; c++) {
    const gtFrom = gtClasses.offsets[c]!;
    const gtTo = gtClasses.offsets[c + 1]!;
    const gtRows = gtClasses.rows;
    const gtStart = groupByImage(gtRows, gtFrom, gtTo, store.gtImage.data, numImages);
    let numGroundTruth = 0;
    for (let k = gtFrom; k < gtTo; k++) if (!gtDifficult[gtRows[k]!]) numGroundTruth++;
    const taken = new Uint8Array(gtTo - gtFrom);

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
      const bx1 = detBox[d * 4]!;
      const by1 = detBox[d * 4 + 1]!;
      const bx2 = detBox[d * 4 + 2]!;
      const by2 = detBox[d * 4 + 3]!;
      const areaD = (bx2 - bx1 + extra) * (by2 - by1 + extra);
      let best = Number.NEGATIVE_INFINITY;
      let bestK = -1;
      for (let k = gtStart[image]!; k < gtStart[image + 1]!; k++) {
        const g = gtRows[k]! * 4;
        const gx1 = gtBox[g]!;
        const gy1 = gtBox[g + 1]!;
        const gx2 = gtBox[g + 2]!;
        const gy2 = gtBox[g + 3]!;
        const iw = Math.min(bx2, gx2) - Math.max(bx1, gx1) + extra;
        const ih = Math.min(by2, gy2) - Math.max(by1, gy1) + extra;
        if (iw > 0 && ih > 0) {
          const inter = iw * ih;
          const union = areaD + (gx2 - gx1 + extra) * (gy2 - gy1 + extra) - inter;
          const overlap = inter / union;
          // Strict: among equal overlaps the first box wins, as in the devkit.
          if (overlap > best) {
            best = overlap;
            bestK = k;
          }
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
      numDifficult: gtTo - gtFrom - numGroundTruth,
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
  const result: EvaluationResult = { map, classes, method, iouThreshold, iou, numImages };
  if (options.cocoMaxDetections !== null) {
    result.coco = evaluateCoco(store, classNames, options.cocoMaxDetections);
  }
  return result;
}

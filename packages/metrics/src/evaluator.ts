import { evaluateCoco } from './coco';
import { EvaluationInputError, EvaluationOptionError } from './errors';
import { EvaluationStore } from './store';
import type {
  EvaluationDetection,
  EvaluationGroundTruth,
  EvaluationOptions,
  EvaluationResult,
} from './types';
import {
  resolveOptions,
  validateDetections,
  validateGroundTruth,
  type ResolvedOptions,
} from './validation';
import { evaluateVoc } from './voc';

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
  add(
    imageId: string,
    detections: readonly EvaluationDetection[],
    groundTruth: EvaluationGroundTruth,
  ): void {
    const id = String(imageId);
    if (this.seen.has(id)) {
      throw new EvaluationInputError(id, 'imageId', id, 'an image not added before');
    }
    const numObjectClasses = this.options.classNames.length;
    const gt = validateGroundTruth(id, groundTruth, numObjectClasses);
    validateDetections(id, detections, numObjectClasses);

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
 * Semantics of the devkit's `VOCevaldet.m` (see `evaluateVoc` in `voc.ts`).
 */
export function evaluateDetections(
  detections: readonly (readonly EvaluationDetection[])[],
  groundTruths: readonly EvaluationGroundTruth[],
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

/** VOC (and, when asked, COCO) results of everything in `store`. */
function evaluateStore(store: EvaluationStore, options: ResolvedOptions): EvaluationResult {
  const { method, iouThreshold, iou } = options;
  const { map, classes } = evaluateVoc(store, options);
  const result: EvaluationResult = {
    map,
    classes,
    method,
    iouThreshold,
    iou,
    numImages: store.imageIds.length,
  };
  if (options.cocoMaxDetections !== null) {
    result.coco = evaluateCoco(store, options.classNames, options.cocoMaxDetections);
  }
  return result;
}

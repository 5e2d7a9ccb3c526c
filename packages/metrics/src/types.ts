import type { BoxCorners, Detection } from '@ssd/geometry';

import type { ApMethod } from './ap';

/** Corners of a box in pixels of the original image: `@ssd/geometry`'s `BoxCorners`. */
export type PixelBox = BoxCorners;

/**
 * One detection: the fields of `@ssd/geometry`'s `Detection` that evaluation
 * reads (a `Detection`, as `@ssd/detect` returns it, can be passed). `classId` is
 * the label (1..K, 0 is background and never a detection), `box` is in pixels of
 * the original image, in the same frame as the ground-truth boxes.
 */
export type EvaluationDetection = Pick<Detection, 'box' | 'classId' | 'score'>;

/**
 * The ground truth of one image: the `boxes`, `labels` and `difficult` fields of
 * `@ssd/geometry`'s `GroundTruth` (a `GroundTruth` or a `Sample` can be passed),
 * as any numeric arrays; `difficult` may be omitted (then every box counts).
 */
export interface EvaluationGroundTruth {
  /** `[G * 4]` xyxy, absolute 0-based pixels. */
  boxes: ArrayLike<number>;
  /** `[G]`, 1..K. */
  labels: ArrayLike<number>;
  /** `[G]`, non-zero for boxes marked `difficult`; all zero when omitted. */
  difficult?: ArrayLike<number>;
}

/**
 * How a detection's overlap with a ground-truth box is measured — which
 * depends on what the box numbers mean.
 * - `'continuous'` (default): boxes are continuous edges, width `xMax - xMin`.
 *   This is the project's convention: `@ssd/voc` turns the XML's 1-based
 *   inclusive pixel corners into 0-based edges (`xmin - 1, ymin - 1, xmax, ymax`)
 *   and `@ssd/detect` outputs boxes in that frame. On such boxes the plain IoU
 *   *is* the devkit's IoU on the XML: the devkit's `+1` is exactly the
 *   inclusive-index → edge conversion (a results file in 1-based pixels would
 *   hold `xMin + 1, yMin + 1, xMax, yMax`). Also COCO's and torchvision's IoU.
 * - `'pixelInclusive'`: boxes are inclusive integer pixel indices, as in the
 *   devkit's own files; width `xMax - xMin + 1` (the devkit's formula
 *   verbatim). Use it for boxes in that convention: the XML corners as they
 *   are, or shifted by a constant (ssd.pytorch subtracts 1 from all four).
 *   Applied to edge boxes it double-counts the pixel and overstates IoU.
 */
export type IouMode = 'continuous' | 'pixelInclusive';

/** Options of `evaluateDetections` and `DetectionEvaluator`. */
export interface EvaluationOptions {
  /** Class names, label `i + 1` is `classNames[i]` (no background entry): e.g. `VOC_CLASSES`. */
  classNames: readonly string[];
  /** Minimum IoU for a match (inclusive, as the devkit's `ovmax >= minoverlap`). Default 0.5. */
  iouThreshold?: number;
  /** `'voc07'` (11-point, VOC2007 test and the SSD paper; default) or `'voc12'` (area, VOC2010+). */
  method?: ApMethod;
  /** What the box numbers mean; see `IouMode`. Default `'continuous'`. */
  iou?: IouMode;
  /**
   * Also compute COCO-style AP@[0.5:0.95] (pycocotools semantics, 101-point,
   * continuous IoU). `true` or `{ maxDetections }` (per image and class,
   * default 100). Default off.
   */
  coco?: boolean | { maxDetections?: number };
}

/** The per-class part of an evaluation. */
export interface ClassEvaluation {
  /** 1..C. */
  classId: number;
  name: string;
  /**
   * Average precision, or `null` when the class has no non-difficult ground
   * truth (recall is undefined; the devkit would print NaN). Such classes
   * are excluded from `map`.
   */
  ap: number | null;
  /** Ground-truth boxes of the class that count (not difficult): the devkit's `npos`. */
  numGroundTruth: number;
  /** Difficult ground-truth boxes of the class (neither found nor missed). */
  numDifficult: number;
  /** All detections of the class. */
  numDetections: number;
  truePositives: number;
  falsePositives: number;
  /**
   * The ranked curve, one point per detection that counted (true or false
   * positive) in descending score order; a detection matched to a difficult
   * box adds no point (it changes neither count). Empty when `ap` is null.
   */
  precision: Float64Array;
  recall: Float64Array;
  /** Score of the detection at each point of the curve. */
  scores: Float64Array;
}

/** COCO-style results (only with the `coco` option). */
export interface CocoEvaluation {
  /** AP averaged over IoU 0.5:0.05:0.95 and the classes with ground truth. */
  ap: number | null;
  ap50: number | null;
  ap75: number | null;
  maxDetections: number;
  classes: {
    classId: number;
    name: string;
    ap: number | null;
    ap50: number | null;
    ap75: number | null;
  }[];
}

/** What `evaluateDetections` and `DetectionEvaluator.compute` return. */
export interface EvaluationResult {
  /** Mean of `classes[].ap` over the classes whose `ap` is not null; null if none. */
  map: number | null;
  classes: ClassEvaluation[];
  method: ApMethod;
  iouThreshold: number;
  iou: IouMode;
  numImages: number;
  coco?: CocoEvaluation;
}

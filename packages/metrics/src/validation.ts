/**
 * Checks of what `DetectionEvaluator` receives: its options, and each image's
 * detections and ground truth, with typed errors naming the image and the field.
 */
import type { ApMethod } from './ap';
import { EvaluationInputError, EvaluationOptionError } from './errors';
import type {
  EvaluationDetection,
  EvaluationGroundTruth,
  EvaluationOptions,
  IouMode,
} from './types';

/** {@link EvaluationOptions} with every default filled in. */
export interface ResolvedOptions {
  classNames: readonly string[];
  iouThreshold: number;
  method: ApMethod;
  iou: IouMode;
  cocoMaxDetections: number | null;
}

export function resolveOptions(options: EvaluationOptions): ResolvedOptions {
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

export function validateGroundTruth(
  imageId: string,
  groundTruth: EvaluationGroundTruth,
  numObjectClasses: number,
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
    if (!(Number.isInteger(label) && label >= 1 && label <= numObjectClasses)) {
      throw new EvaluationInputError(
        imageId,
        `groundTruth.labels[${g}]`,
        label,
        `an integer class id in 1..${numObjectClasses}`,
      );
    }
    const o = g * 4;
    const xMin = boxes[o]!;
    const yMin = boxes[o + 1]!;
    const xMax = boxes[o + 2]!;
    const yMax = boxes[o + 3]!;
    if (!isBox(xMin, yMin, xMax, yMax)) {
      boxError(imageId, `groundTruth.boxes[${o}..${o + 3}]`, xMin, yMin, xMax, yMax);
    }
  }
  return difficult == null ? { count, boxes, labels } : { count, boxes, labels, difficult };
}

export function validateDetections(
  imageId: string,
  detections: readonly EvaluationDetection[],
  numObjectClasses: number,
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
    if (!(Number.isInteger(classId) && classId >= 1 && classId <= numObjectClasses)) {
      throw new EvaluationInputError(
        imageId,
        `detections[${i}].classId`,
        classId,
        `an integer class id in 1..${numObjectClasses}`,
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

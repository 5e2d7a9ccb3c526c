export { DetectionEvaluator, evaluateDetections } from './evaluator';
export {
  averagePrecision,
  coco101AveragePrecision,
  COCO_IOU_THRESHOLDS,
  COCO_RECALL_THRESHOLDS,
  voc07AveragePrecision,
  voc12AveragePrecision,
  VOC07_RECALL_THRESHOLDS,
} from './ap';
export type { ApMethod } from './ap';
export { EvaluationInputError, EvaluationOptionError } from './errors';
export type {
  ClassEvaluation,
  CocoEvaluation,
  EvaluationDetection,
  EvaluationOptions,
  EvaluationResult,
  EvaluationGroundTruth,
  IouMode,
  PixelBox,
} from './types';

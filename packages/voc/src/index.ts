export { VOC_CLASSES } from './classes';
export type { VocClass } from './classes';
export type { Annotation, DatasetWarning, DatasetWarningKind, Sample, SampleSource } from './types';
export { AnnotationError, DatasetLayoutError, ImageError } from './errors';
export type { ImageProblem } from './errors';
export { parseVocAnnotation } from './annotation';
export type { ParseAnnotationOptions } from './annotation';
export { parseLabelTxt } from './labeltxt';

/**
 * Thrown by `add` / `evaluateDetections` when a detection or a ground truth is
 * malformed. Names the image, the field and the value that was wrong.
 */
export class EvaluationInputError extends Error {
  override readonly name = 'EvaluationInputError';
  constructor(
    /** The image the bad value belongs to. */
    readonly imageId: string,
    /** Path of the field, e.g. `detections[3].classId` or `groundTruth.labels[0]`. */
    readonly field: string,
    /** The offending value. */
    readonly value: unknown,
    expected: string,
  ) {
    super(`image "${imageId}": ${field}: expected ${expected}, got ${formatValue(value)}`);
  }
}

/** Thrown for invalid evaluation options (unknown method, threshold outside (0, 1], …). */
export class EvaluationOptionError extends Error {
  override readonly name = 'EvaluationOptionError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`${option}: expected ${expected}, got ${formatValue(value)}`);
  }
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    return String(value);
  }
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return `${value.constructor.name} of length ${(value as ArrayLike<unknown>).length}`;
  }
  return typeof value;
}

/** Thrown for inputs `@ssd/detect` cannot use; `field` names the argument, `value` what arrived. */
export class DetectInputError extends Error {
  override readonly name = 'DetectInputError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

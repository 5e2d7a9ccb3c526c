/** A model or weights file that cannot be read as what it claims to be; names the file and the field. */
export class WeightsFileError extends Error {
  override readonly name = 'WeightsFileError';
  constructor(
    readonly file: string,
    readonly field: string,
    message: string,
  ) {
    super(`${file}: ${field}: ${message}`);
  }
}

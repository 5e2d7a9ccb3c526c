/** Thrown when a box tensor or packed array does not have the shape an operation needs. */
export class BoxShapeError extends Error {
  override readonly name = 'BoxShapeError';
  constructor(
    /** The argument that was wrong, e.g. `boxes`. */
    readonly argument: string,
    /** What was expected, e.g. `[N, 4]`. */
    readonly expected: string,
    /** What arrived, e.g. `[3, 5]`. */
    readonly actual: string,
  ) {
    super(`${argument}: expected shape ${expected}, got ${actual}`);
  }
}

/** Thrown for an unknown box format or a non-positive image size. */
export class BoxArgumentError extends Error {
  override readonly name = 'BoxArgumentError';
}

/** Thrown when a loss input has the wrong rank, shape or dtype, or an option is out of range. */
export class LossInputError extends Error {
  override readonly name = 'LossInputError';
  constructor(
    /** The argument that was wrong, e.g. `targets.labels`. */
    readonly argument: string,
    /** What was expected, e.g. `[batch, numAnchors]`. */
    readonly expected: string,
    /** What arrived, e.g. `[2, 8732, 1]`. */
    readonly actual: string,
  ) {
    super(`${argument}: expected ${expected}, got ${actual}`);
  }
}

/**
 * Thrown for input the matcher cannot use: a degenerate or non-finite ground-truth
 * box, a label outside 1..K, a threshold out of range. `field` names the argument
 * and element (`gtBoxes[3]`), `value` is what arrived.
 */
export class MatcherInputError extends Error {
  override readonly name = 'MatcherInputError';
  constructor(
    /** The argument and element that was wrong, e.g. `gtBoxes[3]`. */
    readonly field: string,
    /** The offending value, as received. */
    readonly value: unknown,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

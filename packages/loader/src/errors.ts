/** A wrong loader option, or a sample that does not fit the batch. */
export class LoaderError extends Error {
  override readonly name = 'LoaderError';
}

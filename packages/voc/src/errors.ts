/**
 * An annotation that cannot be used: malformed XML, a missing or non-numeric field,
 * an unknown class name, a negative coordinate. Names the file, the field (a path
 * such as `object[2].bndbox.xmin`) and the offending value.
 */
export class AnnotationError extends Error {
  override readonly name = 'AnnotationError';
  constructor(
    /** The annotation file. */
    readonly file: string,
    /** The field, e.g. `size.width`, `object[0].name`; `xml` for a parse failure. */
    readonly field: string,
    /** The offending value as read (a string), or `undefined` when missing. */
    readonly value: string | undefined,
    /** Why it is wrong. */
    readonly reason: string,
  ) {
    super(
      `${file}: ${field} ${value === undefined ? '(missing)' : JSON.stringify(value)}: ${reason}`,
    );
  }
}

/** What is wrong with an image file. */
export type ImageProblem = 'missing' | 'corrupt' | 'size-mismatch';

/**
 * An image that cannot be used: missing, truncated/corrupt (sharp cannot decode it),
 * or of a size that disagrees with its annotation.
 */
export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(
    /** The image file. */
    readonly file: string,
    readonly problem: ImageProblem,
    readonly detail: string,
  ) {
    super(`${file}: ${problem}: ${detail}`);
  }
}

/** The data set's layout is wrong: a missing directory or image-set list, a bad id. */
export class DatasetLayoutError extends Error {
  override readonly name = 'DatasetLayoutError';
  constructor(
    /** The path or id at fault. */
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

/** Growable typed columns holding everything `add` received, copied. */

type NumericArray = Float64Array | Int32Array;

/** A typed column that doubles its buffer as values are pushed. */
export class Growable<T extends NumericArray> {
  data: T;
  length = 0;
  constructor(private readonly create: (size: number) => T) {
    this.data = create(1024);
  }
  push(value: number): void {
    if (this.length === this.data.length) this.reserve(1);
    this.data[this.length++] = value;
  }
  /** Makes room for `count` more values. */
  reserve(count: number): void {
    if (this.length + count <= this.data.length) return;
    const next = this.create(Math.max(this.data.length * 2, this.length + count));
    next.set(this.data);
    this.data = next;
  }
}

const float64Column = () => new Growable((n) => new Float64Array(n));
const int32Column = () => new Growable((n) => new Int32Array(n));

/**
 * Detections and ground truths of every image added so far, in columns.
 * Image `i` is the i-th `add` call; rows keep insertion order (which breaks
 * score ties, as the devkit's stable sort of the results file does).
 */
export class EvaluationStore {
  readonly imageIds: string[] = [];
  readonly detImage = int32Column();
  readonly detClass = int32Column();
  readonly detScore = float64Column();
  /** `[D * 4]` xyxy. */
  readonly detBox = float64Column();
  readonly gtImage = int32Column();
  readonly gtClass = int32Column();
  readonly gtDifficult = int32Column();
  /** `[G * 4]` xyxy. */
  readonly gtBox = float64Column();
}

/** Row indices grouped by class (see {@link bucketByClass}). */
export interface ClassBuckets {
  offsets: Int32Array;
  rows: Int32Array;
}

/**
 * Row indices of each class, in insertion order: `rows[offsets[c] .. offsets[c + 1])`
 * are the rows of class `c` (1..K, K = `numObjectClasses`, the class names without background; index 0 unused).
 */
export function bucketByClass(
  classes: Int32Array,
  count: number,
  numObjectClasses: number,
): ClassBuckets {
  const offsets = new Int32Array(numObjectClasses + 2);
  for (let i = 0; i < count; i++) offsets[classes[i]! + 1]!++;
  for (let c = 1; c < offsets.length; c++) offsets[c]! += offsets[c - 1]!;
  const cursor = offsets.slice(0, numObjectClasses + 1);
  const rows = new Int32Array(count);
  for (let i = 0; i < count; i++) rows[cursor[classes[i]!]!++] = i;
  return { offsets, rows };
}

/**
 * Ground-truth rows of one class grouped by image: the rows of image `i` are
 * `rows[start[i] .. start[i + 1])`. Rows arrive in image order (images are
 * added one by one), so this is a count and a prefix sum.
 */
export function groupByImage(
  rows: Int32Array,
  from: number,
  to: number,
  image: Int32Array,
  numImages: number,
): Int32Array {
  const start = new Int32Array(numImages + 1);
  for (let k = from; k < to; k++) start[image[rows[k]!]! + 1]!++;
  start[0] = from;
  for (let i = 1; i <= numImages; i++) start[i]! += start[i - 1]!;
  return start;
}

/** The rows of each class, detections and ground truths (see {@link bucketByClass}). */
export function bucketStoreByClass(
  store: EvaluationStore,
  numObjectClasses: number,
): { det: ClassBuckets; gt: ClassBuckets } {
  return {
    det: bucketByClass(store.detClass.data, store.detClass.length, numObjectClasses),
    gt: bucketByClass(store.gtClass.data, store.gtClass.length, numObjectClasses),
  };
}

/** The ground truth of one class. */
export interface ClassGroundTruth {
  /** Its rows are `rows[from .. to)`. */
  from: number;
  to: number;
  rows: Int32Array;
  /** `[numImages + 1]`: image `i`'s rows are `rows[start[i] .. start[i + 1])`. */
  start: Int32Array;
  /** How many of its boxes are not difficult. */
  numGroundTruth: number;
}

/** The ground truth of class `c`, grouped by image, with its non-difficult count. */
export function groundTruthOfClass(
  store: EvaluationStore,
  gt: ClassBuckets,
  c: number,
): ClassGroundTruth {
  const from = gt.offsets[c]!;
  const to = gt.offsets[c + 1]!;
  const start = groupByImage(gt.rows, from, to, store.gtImage.data, store.imageIds.length);
  const difficult = store.gtDifficult.data;
  let numGroundTruth = 0;
  for (let k = from; k < to; k++) if (!difficult[gt.rows[k]!]) numGroundTruth++;
  return { from, to, rows: gt.rows, start, numGroundTruth };
}

/**
 * Rows sorted by descending score; ties keep the order of `rows` (a stable
 * sort, as MATLAB's `sort` and numpy's mergesort). A bottom-up merge sort with
 * the comparison inlined: several times faster than `sort` with a comparator
 * on the ~50k detections of a class.
 */
export function rankByScore(rows: ArrayLike<number>, score: Float64Array): Int32Array {
  const n = rows.length;
  let source = Int32Array.from(rows);
  if (n < 2) return source;
  let target = new Int32Array(n);
  // Insertion-sort runs of 16, then merge runs pairwise.
  const RUN = 16;
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = Math.min(lo + RUN, n);
    for (let i = lo + 1; i < hi; i++) {
      const row = source[i]!;
      const key = score[row]!;
      let j = i - 1;
      while (j >= lo && score[source[j]!]! < key) {
        source[j + 1] = source[j]!;
        j--;
      }
      source[j + 1] = row;
    }
  }
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        // `>=` keeps the left (earlier) row first among equal scores.
        if (score[source[i]!]! >= score[source[j]!]!) target[k++] = source[i++]!;
        else target[k++] = source[j++]!;
      }
      while (i < mid) target[k++] = source[i++]!;
      while (j < hi) target[k++] = source[j++]!;
    }
    const swap = source;
    source = target;
    target = swap;
  }
  return source;
}

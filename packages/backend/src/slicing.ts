/** How a batch is checked and split over the workers (pure functions). */
import { TrainerError } from './errors';
import type { BatchArray, TrainingBatch } from './protocol';

/** Rows of each worker: contiguous, sizes differing by at most one. */
export function splitRows(rows: number, workers: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let w = 0; w < workers; w++) {
    const size = Math.floor(rows / workers) + (w < rows % workers ? 1 : 0);
    out.push([start, start + size]);
    start += size;
  }
  return out;
}

/** Checks the arrays of a batch; returns its number of rows. */
export function validateBatch(batch: TrainingBatch): number {
  const entries = Object.entries(batch);
  if (entries.length === 0) throw new TrainerError('step: the batch has no arrays');
  let rows = -1;
  for (const [name, array] of entries) {
    const { data, shape } = array as BatchArray;
    if (
      !(data instanceof Float32Array || data instanceof Int32Array || data instanceof Uint8Array)
    ) {
      throw new TrainerError(
        `step: batch.${name}.data must be a Float32Array, Int32Array or Uint8Array`,
      );
    }
    const { dtype } = array as BatchArray;
    if (dtype !== undefined && dtype !== 'float32' && dtype !== 'int32') {
      throw new TrainerError(
        `step: batch.${name}.dtype must be 'float32' or 'int32', got ${dtype}`,
      );
    }
    if (dtype === 'int32' && data instanceof Float32Array) {
      throw new TrainerError(`step: batch.${name} is a Float32Array; dtype 'int32' needs integers`);
    }
    const size = shape.reduce((a, b) => a * b, 1);
    if (shape.length === 0 || size !== data.length) {
      throw new TrainerError(
        `step: batch.${name} has shape [${shape}] (${size} values) but ${data.length} values`,
      );
    }
    if (rows >= 0 && shape[0] !== rows) {
      throw new TrainerError(`step: batch.${name} has ${shape[0]} rows, other arrays have ${rows}`);
    }
    rows = shape[0] as number;
  }
  if (rows === 0) throw new TrainerError('step: the batch has 0 rows');
  return rows;
}

/** Rows `[start, end)` of every array of the batch (copies, to be transferred). */
export function sliceBatch(batch: TrainingBatch, start: number, end: number): TrainingBatch {
  const out: TrainingBatch = {};
  for (const [name, { data, shape, dtype }] of Object.entries(batch)) {
    const rowSize = data.length / (shape[0] as number);
    out[name] = {
      data: data.slice(start * rowSize, end * rowSize),
      shape: [end - start, ...shape.slice(1)],
      ...(dtype === undefined ? {} : { dtype }),
    };
  }
  return out;
}

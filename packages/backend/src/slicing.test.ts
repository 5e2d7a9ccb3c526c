import { describe, expect, it } from 'vitest';
import { TrainerError } from './errors';
import { sliceBatch, splitRows, validateBatch } from './slicing';

describe('batch slicing', () => {
  it('splits rows contiguously, sizes differing by at most one', () => {
    expect(splitRows(7, 3)).toEqual([
      [0, 3],
      [3, 5],
      [5, 7],
    ]);
    expect(splitRows(1, 3)).toEqual([
      [0, 1],
      [1, 1],
      [1, 1],
    ]);
  });

  it('slices every array by rows, copying, and keeps a dtype', () => {
    const images = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i);
    const batch = {
      images: { data: images, shape: [3, 2, 2], dtype: 'float32' as const },
      labels: { data: Int32Array.of(5, 6, 7), shape: [3] },
    };
    expect(validateBatch(batch)).toBe(3);
    const slice = sliceBatch(batch, 1, 3);
    expect(slice.images).toEqual({
      data: Uint8Array.from([4, 5, 6, 7, 8, 9, 10, 11]),
      shape: [2, 2, 2],
      dtype: 'float32',
    });
    expect(slice.labels).toEqual({ data: Int32Array.of(6, 7), shape: [2] });
    expect(slice.images!.data.buffer).not.toBe(images.buffer);
  });

  it('rejects a dtype the array cannot have', () => {
    expect(() =>
      validateBatch({ x: { data: new Float32Array(2), shape: [2], dtype: 'int32' } }),
    ).toThrow(TrainerError);
    expect(() =>
      validateBatch({
        x: { data: new Uint8Array(2), shape: [2], dtype: 'uint8' as unknown as 'int32' },
      }),
    ).toThrow(/dtype must be 'float32' or 'int32'/);
  });
});

/** The index of the first NaN or ±Infinity in `values`, or −1 when every value is finite. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

/** `"NaN at index 12 of 864"`: how a non-finite value is described in errors. */
export function describeNonFinite(values: ArrayLike<number>, index: number): string {
  return `holds ${String(values[index])} at index ${index} of ${values.length}: the weights are corrupt or diverged`;
}

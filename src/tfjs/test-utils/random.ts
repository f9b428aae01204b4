/** Deterministic values in [-1, 1) (a linear congruential generator), for backend comparisons. */
export function seededArray(size: number, seed: number): Float32Array {
  let state = seed;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    out[i] = (state / 2147483648) * 2 - 1;
  }
  return out;
}

/** Largest absolute difference between two arrays, and the largest magnitude in the reference. */
export function maxAbsDifference(
  actual: ArrayLike<number>,
  reference: ArrayLike<number>,
): { worst: number; scale: number } {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    worst = Math.max(worst, Math.abs((actual[i] as number) - (reference[i] as number)));
    scale = Math.max(scale, Math.abs(reference[i] as number));
  }
  return { worst, scale };
}

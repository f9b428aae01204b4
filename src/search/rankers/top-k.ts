/**
 * Indices of the k largest scores, best first. A bounded insertion list: O(n k) with k <= 100 beats
 * sorting 10,000 scores, and needs no heap library for a dozen lines.
 */
export function topK(scores: Float32Array | readonly number[], k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (Number.isNaN(s)) continue;
    if (best.length === k && s <= scores[best[k - 1]!]!) continue;
    let pos = best.length < k ? best.length : k - 1;
    while (pos > 0 && scores[best[pos - 1]!]! < s) pos--;
    best.splice(pos, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

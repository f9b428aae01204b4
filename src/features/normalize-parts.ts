/**
 * Each part of a pooled vector (one per encoder or ensemble member) minus its mean, scaled to unit
 * length, so a 1792-wide part cannot drown a 480-wide one; a part that is all mean stays zero. The
 * recipe DESIGN.md found best for nearest-neighbour captions; search embeddings and caption memories
 * both use it.
 */
export function normalizeParts(
  raw: Float32Array,
  mean: Float32Array,
  parts: readonly number[],
): Float32Array {
  const out = new Float32Array(raw.length);
  let offset = 0;
  for (const width of parts) {
    let squares = 0;
    for (let j = offset; j < offset + width; j++) {
      const v = raw[j]! - mean[j]!;
      out[j] = v;
      squares += v * v;
    }
    const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
    for (let j = offset; j < offset + width; j++) out[j]! *= scale;
    offset += width;
  }
  return out;
}

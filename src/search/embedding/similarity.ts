import type { JointEmbedding } from "./model.js";

/**
 * [queries, images] scores exactly as search computes them: stored search vectors (with any hubness
 * penalty) against query vectors. A query with no known word scores 0 everywhere.
 * pooled: [images, imageDim] encoder pooled vectors.
 */
export function embeddingSimilarity(
  model: JointEmbedding,
  pooled: Float32Array,
  queries: readonly string[],
): Float32Array {
  const dim = model.searchDim;
  const n = pooled.length / model.imageDim;
  const images = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    images.set(model.searchVector(pooled.subarray(i * model.imageDim, (i + 1) * model.imageDim)), i * dim);
  }
  const sim = new Float32Array(queries.length * n);
  queries.forEach((query, q) => {
    const t = model.queryVector(query);
    if (!t) return;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += t[j]! * images[i * dim + j]!;
      sim[q * n + i] = s;
    }
  });
  return sim;
}

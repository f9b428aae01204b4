import { decodeFloat16 } from "../../core/float16.js";
import type { PhotoStore } from "../db/store.js";
import type { JointEmbedding } from "../embedding/model.js";
import type { Ranked } from "./fts.js";
import { topK } from "./top-k.js";

/**
 * Lowest embedding score (cosine minus the hubness penalty) of a good match. On Flickr8k val
 * (bench/search-thresholds.ts, docs/search.md) 72% of captions score their own photo at least this,
 * and 4.5% of the other photos (some of which the caption fits too) do.
 */
export const EMBEDDING_MIN_SCORE = 0.1;

/**
 * Cosine similarity between the query's text embedding and every image's stored vector. The vectors
 * are loaded once into one flat array (10,000 images x 256 dims = 10 MB), so a query is a single pass
 * of dot products.
 */
export class EmbeddingRanker {
  private readonly ids: number[] = [];
  private readonly paths: string[] = [];
  private readonly captions: string[] = [];
  private readonly vectors: Float32Array;
  private readonly dim: number;

  constructor(
    store: PhotoStore,
    private readonly model: JointEmbedding,
    modelId: string,
  ) {
    this.dim = model.searchDim;
    // vectors of another width (an index from an older model format) are skipped, not misread
    const rows = store.embeddings(modelId).filter((row) => row.vector.byteLength === this.dim * 2);
    this.vectors = new Float32Array(rows.length * this.dim);
    rows.forEach((row, i) => {
      this.ids.push(row.id);
      this.paths.push(row.path);
      this.captions.push(row.caption);
      decodeFloat16(row.vector, this.vectors.subarray(i * this.dim, (i + 1) * this.dim));
    });
  }

  get size(): number {
    return this.ids.length;
  }

  /** Scores of every image for the query (undefined when no query word is known to the model). */
  scoreAll(query: string): Float32Array | undefined {
    const q = this.model.queryVector(query);
    if (!q) return undefined;
    const n = this.ids.length;
    const dim = this.dim;
    const scores = new Float32Array(n);
    const v = this.vectors;
    for (let i = 0; i < n; i++) {
      let s = 0;
      const base = i * dim;
      for (let j = 0; j < dim; j++) s += q[j]! * v[base + j]!;
      scores[i] = s;
    }
    return scores;
  }

  rank(query: string, k: number): Ranked[] | undefined {
    const scores = this.scoreAll(query);
    if (!scores) return undefined;
    return topK(scores, k).map((i) => this.entry(i, scores[i]!));
  }

  entry(index: number, score: number): Ranked {
    const caption = this.captions[index]!;
    return {
      id: this.ids[index]!,
      path: this.paths[index]!,
      caption,
      score,
      good: score >= EMBEDDING_MIN_SCORE,
    };
  }

  indexOfId(id: number): number {
    return this.ids.indexOf(id);
  }
}

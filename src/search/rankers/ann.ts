import { VectorIndex } from "../ann/vector-index.js";
import type { PhotoStore } from "../db/store.js";
import type { JointEmbedding } from "../embedding/model.js";
import { EMBEDDING_MIN_SCORE } from "./embedding.js";
import type { Ranked } from "./fts.js";

/**
 * The embedding ranking through the HNSW graph `index` keeps beside the database: the same scores as
 * EmbeddingRanker for the images it finds, without holding or scanning every vector.
 */
export class AnnRanker {
  private constructor(
    private readonly store: PhotoStore,
    private readonly model: JointEmbedding,
    private index: VectorIndex,
    private readonly dbPath: string,
  ) {}

  /** undefined when the database has no usable graph for this model (search then scans exactly). */
  static open(
    dbPath: string,
    store: PhotoStore,
    model: JointEmbedding,
    modelId: string,
  ): AnnRanker | undefined {
    const index = VectorIndex.open(dbPath, store, modelId, model.searchDim);
    return index ? new AnnRanker(store, model, index, dbPath) : undefined;
  }

  get size(): number {
    return this.store.embeddingCount(this.index.model);
  }

  /**
   * Follows what another connection (an index run) committed: the logged changes, or the graph it
   * saved when it has pruned the log past this one. False when neither is possible.
   */
  refresh(): boolean {
    if (this.index.reachable(this.store)) {
      this.index.catchUp(this.store);
      return true;
    }
    const reopened = VectorIndex.open(this.dbPath, this.store, this.index.model, this.model.searchDim);
    if (!reopened) return false;
    this.index = reopened;
    return true;
  }

  rank(query: string, k: number): Ranked[] | undefined {
    const q = this.model.queryVector(query);
    if (!q) return undefined;
    const { ids, scores } = this.index.search(q, k);
    const ranked: Ranked[] = [];
    ids.forEach((id, i) => {
      const row = this.store.brief(id);
      // a photo removed after the graph's last catch-up
      if (!row) return;
      ranked.push({ ...row, score: scores[i]!, good: scores[i]! >= EMBEDDING_MIN_SCORE });
    });
    return ranked;
  }
}

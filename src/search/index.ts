export { ANN_MIN_VECTORS, annFiles, type SyncResult, syncVectorIndex } from "./ann/vector-index.js";
export { openDatabase, SCHEMA_VERSION } from "./db/schema.js";
export { PhotoStore } from "./db/store.js";
export { loadJointEmbedding, saveJointEmbedding } from "./embedding/io.js";
export { JointEmbedding, type JointEmbeddingConfig } from "./embedding/model.js";
export { TextFeaturizer } from "./embedding/text-features.js";
export { type EmbeddingPairs, evaluateEmbedding, trainJointEmbedding } from "./embedding/train.js";
export { type IndexOptions, type IndexSummary, indexFolder } from "./indexer.js";
export { DEFAULT_EMBEDDING_DIR, loadEmbeddingWithId } from "./models.js";
export {
  DEFAULT_METHOD,
  type OpenPhotoSearchOptions,
  openPhotoSearch,
} from "./photo-search.js";
export type { ImageFeatures, IndexPipeline, ProcessedImage } from "./pipeline.js";
export type { CaptionScorer } from "./rankers/generative.js";
export { evaluateSimilarity, type RetrievalScores } from "./retrieval-metrics.js";
export {
  GENERATIVE_CANDIDATES,
  type PhotoSearch,
  RANKING_METHODS,
  type RankingMethod,
  type SearchOptions,
  type SearchResult,
} from "./types.js";

export { readerShape, readFeatureBatch } from "./batch.js";
export { type ImageRef, viewAugment } from "./chunk.js";
export { ConcatFeatureReader, concatFeatureReaders, memoryFeatureReader } from "./concat-reader.js";
export { DEFAULT_EXTRACT_WORKERS } from "./defaults.js";
export { type ExtractOptions, type ExtractResult, extractFeatures } from "./extract.js";
export {
  type FeatureDtype,
  INDEX_FILE,
  MANIFEST_FILE,
  type StoreIndex,
  type StoreManifest,
  storeFolderName,
} from "./format.js";
export { FeatureStore, type OpenOptions, openFeatureStore } from "./reader.js";
export type { FeatureBatch, FeatureReader } from "./types.js";

export { type ImageRef, viewAugment } from "./chunk.js";
export { ConcatFeatureReader } from "./concat-reader.js";
export {
  DEFAULT_EXTRACT_WORKERS,
  type ExtractOptions,
  type ExtractResult,
  extractFeatures,
} from "./extract.js";
export { decodeHalf, encodeHalf, fromHalfBits, toHalfBits } from "./float16.js";
export {
  type FeatureDtype,
  INDEX_FILE,
  MANIFEST_FILE,
  type StoreIndex,
  type StoreManifest,
  storeFolderName,
} from "./format.js";
export { FeatureStore, type OpenOptions, openFeatureStore } from "./reader.js";
export type { FeatureReader } from "./types.js";

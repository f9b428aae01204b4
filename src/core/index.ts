// Shared utilities every stage may use; they import nothing else from captionkit.
export { removeStaleTemps, writeFileAtomic } from "./atomic.js";
export { yieldToEventLoop } from "./event-loop.js";
export {
  decodeFloat16,
  decodeHalf,
  encodeFloat16,
  encodeHalf,
  float16ToFloat32,
  float32ToFloat16,
  fromHalfBits,
  toHalfBits,
} from "./float16.js";
export {
  loadOnnxRuntime,
  loadSyncOnnxSessions,
  type OnnxRuntime,
  type SyncOnnxSession,
} from "./onnxruntime.js";
export { defaultEmbeddingDir, defaultModelDir, packageRoot, publicDir } from "./paths.js";
export { noProgress, type Progress, type ProgressFactory } from "./progress.js";
export { deriveSeed, mulberry32, Rng, withSeededRandom } from "./rng.js";
export { startModuleWorker } from "./worker.js";

// Shared utilities every stage may use: they import nothing else from captionkit.
export {
  loadOnnxRuntime,
  loadSyncOnnxSessions,
  type OnnxRuntime,
  type SyncOnnxSession,
} from "./onnxruntime.js";

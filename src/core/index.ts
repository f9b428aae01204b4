// Shared utilities every stage may use: they import nothing else from captionkit.
export { loadOnnxRuntime, type OnnxRuntime } from "./onnxruntime.js";

// Decoders as ONNX graphs on onnxruntime-node: the "onnx" DecoderRuntime (see docs/decoders.md).
export { defaultOnnxCacheDir, GRAPH_FORMAT, graphFolder } from "./cache.js";
export { type DecoderPlan, type DecoderSpec, type LeafPlan, planDecoder, planSpecs } from "./plan.js";
export {
  buildGraphs,
  createOnnxRuntime,
  type DecoderSource,
  OnnxDecoderRuntime,
  type OnnxRuntimeOptions,
  type OnnxState,
} from "./runtime.js";

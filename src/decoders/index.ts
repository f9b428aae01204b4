// Caption decoders: the small CaptionDecoder contract, its implementations, and the runtimes that run
// a decoder for generation (tfjs here; onnxruntime in ./onnx).

export { CenterNetTail } from "./centernet-tail.js";
export {
  decoderConfigSchema,
  decoderShapeSchema,
  featureHeadSchema,
  showAttendTellSchema,
  transformerSchema,
} from "./config.js";
export { EnsembleDecoder } from "./ensemble.js";
export { createDecoder } from "./factory.js";
export { HeadedDecoder } from "./headed-decoder.js";
export { imageVectorParts, imageVectors } from "./image-vectors.js";
export {
  createOnnxRuntime,
  type DecoderSource,
  OnnxDecoderRuntime,
  type OnnxRuntimeOptions,
} from "./onnx/index.js";
export {
  checkBatch,
  type DecoderRuntime,
  decoderCapacity,
  type FeatureBatch,
  type StepOutput,
  type StepSession,
  selectRows,
} from "./runtime.js";
export { ShowAttendTellDecoder } from "./show-attend-tell.js";
export { TfjsRuntime, toDecoderInputs } from "./tfjs-runtime.js";
export { TransformerDecoder } from "./transformer.js";
export {
  type CaptionDecoder,
  type DecoderConfig,
  type DecoderInputs,
  type DecoderShape,
  type DecoderState,
  type DecoderStep,
  type FeatureHeadConfig,
  hasImageVectors,
  type ImageVectorSource,
  type ShowAttendTellConfig,
  type TeacherForcedOutput,
  type TransformerDecoderConfig,
} from "./types.js";

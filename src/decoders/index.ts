// Training decoders on wasm needs these kernel fixes; re-exported here as the decoders' public prerequisite.
export { applyWasmKernelFixes, clearTransposeCache } from "../tfjs/kernel-fixes.js";
export { CenterNetTail } from "./centernet-tail.js";
export { decoderConfigSchema, decoderShapeSchema } from "./config-schema.js";
export { EnsembleDecoder } from "./ensemble.js";
export {
  ENSEMBLE_FORMAT,
  type EnsembleFile,
  type EnsembleMeta,
  ensembleFileSchema,
} from "./ensemble-io.js";
export { createDecoder } from "./factory.js";
export { float16ToFloat32, float32ToFloat16 } from "./float16.js";
export { HeadedDecoder } from "./headed-decoder.js";
export { imageVectorParts, imageVectorRows, imageVectors } from "./image-vectors.js";
export {
  type LoadedModel,
  loadModel,
  MODEL_FILE,
  MODEL_FORMAT,
  MODEL_VERSION,
  type ModelFile,
  type ModelMeta,
  modelFileSchema,
  readModelFile,
  type SaveModelOptions,
  saveEnsembleModel,
  saveModel,
  WEIGHTS_FILE,
  type WeightsDtype,
} from "./model-io.js";
export { ShowAttendTellDecoder } from "./show-attend-tell.js";
export { TransformerDecoder } from "./transformer.js";
export type {
  CaptionDecoder,
  DecoderConfig,
  DecoderInputs,
  DecoderShape,
  DecoderState,
  DecoderStep,
  FeatureHeadConfig,
  ShowAttendTellConfig,
  TeacherForcedOutput,
  TransformerDecoderConfig,
} from "./types.js";

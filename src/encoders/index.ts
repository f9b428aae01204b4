export { builtinEncoders, centernet224, mobilenetV2Mid } from "./builtin.js";
export {
  COLOUR_CHANNELS,
  COLOUR_TERMS,
  ColourEncoder,
  colourDescriptor,
  parseColourEncoderName,
  srgbToLab,
} from "./colour-encoder.js";
export { ConcatEncoder, renormalize } from "./concat-encoder.js";
export {
  diskIOHandler,
  freeInputShape,
  loadArtifactsFromFile,
  loadGraphModelFromFile,
  loadNsfwjsArtifacts,
  loadNsfwjsModel,
  resolvePackageFile,
} from "./model-loader.js";
export {
  ONNX_CONFIG_FILE,
  OnnxEncoder,
  type OnnxEncoderConfig,
  onnxEncoderConfigSchema,
} from "./onnx-encoder.js";
export { OnnxGraphEncoder, type OnnxGraphEncoderOptions } from "./onnx-graph-encoder.js";
export {
  type CreateEncoderOptions,
  createEncoder,
  DEFAULT_ENCODER_RUNTIME,
  ENCODER_RUNTIMES,
  type EncoderRuntime,
  encoderNames,
} from "./registry.js";
export { type TfjsEncoderSpec, TfjsGraphEncoder } from "./tfjs-encoder.js";
export { type TfjsToOnnxOptions, tfjsGraphToOnnx } from "./tfjs-to-onnx.js";
export type { EncodedBatch, Encoder, Normalization } from "./types.js";

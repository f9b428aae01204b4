export { builtinEncoders, centernet224, mobilenetV2Mid } from "./builtin.js";
export { ConcatEncoder, renormalize } from "./concat-encoder.js";
export {
  diskIOHandler,
  freeInputShape,
  loadGraphModelFromFile,
  loadNsfwjsModel,
  resolvePackageFile,
} from "./model-loader.js";
export {
  ONNX_CONFIG_FILE,
  OnnxEncoder,
  type OnnxEncoderConfig,
  onnxEncoderConfigSchema,
} from "./onnx-encoder.js";
export { type CreateEncoderOptions, createEncoder, encoderNames } from "./registry.js";
export { type TfjsEncoderSpec, TfjsGraphEncoder } from "./tfjs-encoder.js";
export type { EncodedBatch, Encoder, Normalization } from "./types.js";

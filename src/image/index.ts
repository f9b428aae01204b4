// Image stage: bytes in, normalised [size, size, 3] tensors out. The only holder of preprocessing constants.
export {
  type AugmentConfig,
  type AugmentConfigInput,
  type AugmentParams,
  augmentConfigSchema,
  DEFAULT_AUGMENT_CONFIG,
  fillColour,
  IDENTITY_AUGMENT,
  parseAugmentConfig,
  sampleAugmentParams,
} from "./augment.js";
export {
  ALPHA_BACKGROUND,
  type DecodeOptions,
  type ProbedImage,
  probeImage,
} from "./decode.js";
export { BUFFER_NAME, IMAGE_ERROR_CODES, ImageError, type ImageErrorCode, isImageError } from "./errors.js";
export { DEFAULT_MAX_PIXELS } from "./limits.js";
export { BYTE_RANGE, type Normalization, SIGNED_UNIT_RANGE, UNIT_RANGE } from "./normalization.js";
export {
  type BatchOptions,
  DEFAULT_FIT,
  type Fit,
  imageLength,
  mirrorInto,
  normalizeInto,
  type PreprocessedBatch,
  type PreprocessOptions,
  type PreprocessSpec,
  preprocessBatch,
  preprocessImage,
  preprocessInto,
  preprocessSpecSchema,
  resizedRgb,
} from "./preprocess.js";
export { type AugmentPreviewOptions, augmentPreview, PREVIEW_NORMALIZATION } from "./preview.js";
export { augmentSeed } from "./random.js";

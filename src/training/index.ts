export {
  buildExamples,
  type CaptionExample,
  epochBatches,
  featureBatch,
  type ImageCaptions,
  tokenBatch,
} from "./batches.js";
export { type CheckpointManifest, type EpochRecord, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
export {
  defaultTrainConfig,
  mergeTrainConfig,
  parseOverrides,
  readPreset,
  type TrainConfig,
  type TrainConfigInput,
  trainConfigSchema,
} from "./config.js";
export { curveSvg, writeCurvePng } from "./curve.js";
export { decoderFromCheckpoint, exportCheckpoint } from "./export.js";
export { maskedCrossEntropy } from "./loss.js";
export { Adam, clipByGlobalNorm, globalNormScale, learningRateAt } from "./optimizer.js";
export { captionWords, prepareTrainData } from "./prepare.js";
export {
  checkRecipe,
  type RecipeOptions,
  type RecipeResult,
  type RecipeStep,
  recipeStatus,
  runRecipe,
} from "./recipe.js";
export { DEFAULT_RECIPE } from "./recipe-default.js";
export { decodeWords, exportTrainedModel, type RunTrainingOptions, runTraining } from "./run.js";
export { runScst } from "./scst.js";
export { type TrainData, type TrainerParts, type TrainResult, trainCrossEntropy } from "./trainer.js";
export { type GradientWorkers, startGradientWorkers } from "./workers.js";

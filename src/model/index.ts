// The model folder: its format (single models and ensembles), save and load, and loadCaptionModel,
// the one loader every entry point uses.
export { saveEnsemble } from "./ensemble.js";
export {
  ENSEMBLE_FORMAT,
  type EnsembleFile,
  type EnsembleMeta,
  ensembleFileSchema,
  type LoadedModel,
  MODEL_FILE,
  MODEL_FORMAT,
  MODEL_VERSION,
  type ModelFile,
  type ModelMeta,
  modelFileSchema,
  type SaveModelOptions,
  WEIGHTS_FILE,
  type WeightsDtype,
} from "./format.js";
export {
  CaptionModelFolder,
  type LoadCaptionModelOptions,
  loadCaptionModel,
  loadMemoryFor,
  loadModel,
  loadReranking,
  type RankingChoice,
  rankingOf,
  searchScorerDir,
} from "./load.js";
export { readModelFile, saveModel } from "./single.js";

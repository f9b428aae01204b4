export { captionFeatures, type GenerateOptions } from "./caption.js";
export {
  CaptionMemory,
  type CaptionMemoryData,
  DEFAULT_MEMORY_SETTINGS,
  type MemorySettings,
} from "./caption-memory.js";
export {
  type CaptionTimings,
  defaultModelDir,
  type LoadCaptionerOptions,
  loadCaptioner,
  loadMemoryFor,
  loadReranking,
  ModelCaptioner,
  packageRoot,
  type Reranking,
  type SettledCaption,
} from "./captioner.js";
export { confidenceOf, formatCaption } from "./format.js";
export { captionLogProbs, type LogProbOptions } from "./likelihood.js";
export { type BuildMemoryOptions, type BuiltMemory, buildCaptionMemory } from "./memory-build.js";
export {
  type LoadedMemory,
  loadCaptionMemory,
  MEMORY_FILE,
  MEMORY_VECTORS_FILE,
  type SaveMemoryOptions,
  saveCaptionMemory,
} from "./memory-io.js";
export {
  DEFAULT_PRIOR_SETTINGS,
  NgramPrior,
  type NgramPriorData,
  type NgramProfile,
  ngramProfile,
  type PriorPrediction,
  type PriorSettings,
} from "./ngram-prior.js";
export { type FitPriorOptions, fitNgramPrior, type PriorTrainingSet } from "./ngram-prior-fit.js";
export {
  hasNgramPrior,
  type LoadedPrior,
  loadNgramPrior,
  PRIOR_FILE,
  PRIOR_WEIGHTS_FILE,
  type SavePriorOptions,
  saveNgramPrior,
} from "./ngram-prior-io.js";
export { type ProposalRanker, type RankedProposal, rankProposals } from "./rerank.js";
export { type BeamSearchOptions, beamSearch, greedySearch, type Hypothesis } from "./search.js";
export type { CaptionAlternative, Captioner, CaptionOptions, CaptionResult } from "./types.js";

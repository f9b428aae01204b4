// Re-rankers of a beam's proposals: the model's n-gram prior and caption memories (data, files, fit).
export {
  CaptionMemory,
  type CaptionMemoryData,
  DEFAULT_MEMORY_SETTINGS,
  type MemorySettings,
} from "./caption-memory.js";
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
export {
  orderByScore,
  type ProposalRanker,
  proposalScores,
  type RankedProposal,
  rankProposals,
} from "./rerank.js";

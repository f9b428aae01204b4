export { captionFeatures, type GenerateOptions } from "./caption.js";
export {
  CaptionMemory,
  type CaptionMemoryData,
  DEFAULT_MEMORY_SETTINGS,
  type MemorySettings,
  type RankedProposal,
} from "./caption-memory.js";
export {
  type CaptionTimings,
  defaultModelDir,
  type LoadCaptionerOptions,
  loadCaptioner,
  loadMemoryFor,
  ModelCaptioner,
  packageRoot,
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
export { type BeamSearchOptions, beamSearch, greedySearch, type Hypothesis } from "./search.js";
export type { CaptionAlternative, Captioner, CaptionOptions, CaptionResult } from "./types.js";

export { captionFeatures, type GenerateOptions } from "./caption.js";
export {
  type CaptionTimings,
  defaultModelDir,
  type LoadCaptionerOptions,
  loadCaptioner,
  ModelCaptioner,
  packageRoot,
  type SettledCaption,
} from "./captioner.js";
export { confidenceOf, formatCaption } from "./format.js";
export { captionLogProbs, type LogProbOptions } from "./likelihood.js";
export { type BeamSearchOptions, beamSearch, greedySearch, type Hypothesis } from "./search.js";
export type { CaptionAlternative, Captioner, CaptionOptions, CaptionResult } from "./types.js";

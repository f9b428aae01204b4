// Generation: greedy and beam search over any decoder runtime, and the CaptionModel that turns
// features into captions (search, re-ranking, sentence form).
export {
  CaptionModel,
  type CaptionModelInfo,
  type GenerateOptions,
  type Reranking,
} from "./caption-model.js";
export { confidenceOf, formatCaption } from "./format.js";
export { sampleCaptions } from "./sample.js";
export { type BeamSearchOptions, beamSearch, greedySearch, type Hypothesis } from "./search.js";
export {
  type CaptionAlternative,
  type Captioner,
  type CaptionOptions,
  type CaptionResult,
  DEFAULT_NO_REPEAT_NGRAM,
} from "./types.js";

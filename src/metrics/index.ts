// COCO caption metrics: pure functions over the layout documented in types.ts.
// METEOR is exported from its own module path too (./meteor/index.js) and loads WordNet lazily.
export { type BleuResult, bleu, bleuFromCorpus } from "./bleu.js";
export { ciderD, ciderDFromCorpus } from "./cider.js";
export { CiderReward } from "./cider-reward.js";
export { checkCoverage, parseCandidates, parseReferences } from "./inputs.js";
export {
  loadWordNet,
  type MeteorOptions,
  type MeteorStats,
  meteor,
  meteorScore,
  WordNet,
} from "./meteor/index.js";
export { buildNgramCorpus, type NgramBag, type NgramCorpus, NgramTable } from "./ngrams.js";
export { lcsLength, rougeL, rougeLSentence } from "./rouge.js";
export {
  METRIC_FAMILIES,
  METRIC_NAMES,
  type MetricFamily,
  type MetricName,
  type MetricScores,
  parseMetricList,
  type ScoreOptions,
  type ScoreReport,
  scoreCaptions,
  tokenizeCaptions,
} from "./score.js";
export type { Candidates, MetricResult, References } from "./types.js";

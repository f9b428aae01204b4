// biome-ignore-all assist/source/organizeImports: the front door reads in pipeline order, not alphabetically
// captionkit's front door, in pipeline order: the calls most programs need. Each stage is also a
// subpath export with its whole API (`captionkit/data`, `captionkit/decoders`, `captionkit/model`, ...).
// The apps, batch alt text and the HTTP service, are the subpaths captionkit/alttext and
// captionkit/serve: the library never imports them.

// Data: datasets, tokenization, vocabulary
export { type LoadDatasetOptions, loadDataset } from "./data/load.js";
export { ptbTokenize } from "./data/ptb-tokenizer.js";
export type { CaptionDataset, CaptionedImage } from "./data/types.js";
export { buildVocabulary, SPECIAL_TOKENS, Vocabulary, type VocabularyJson } from "./data/vocabulary.js";
// Images: decoding and preprocessing
export { type PreprocessSpec, preprocessBatch } from "./image/preprocess.js";
// Encoders and their feature cache
export { mobilenetV2Mid } from "./encoders/builtin.js";
export { createEncoder } from "./encoders/registry.js";
export type { Encoder } from "./encoders/types.js";
export { type ExtractOptions, extractFeatures } from "./features/extract.js";
export { openFeatureStore } from "./features/reader.js";
export type { FeatureBatch, FeatureReader } from "./features/types.js";
// Decoders and the runtimes that run them
export { createDecoder } from "./decoders/factory.js";
export type { DecoderRuntime } from "./decoders/runtime.js";
export type { CaptionDecoder, DecoderConfig } from "./decoders/types.js";
// Generation: search, re-ranking, the model that turns features into captions
export { CaptionModel, type GenerateOptions } from "./generation/caption-model.js";
export type { Captioner, CaptionOptions, CaptionResult } from "./generation/types.js";
export type { ProposalRanker } from "./rerank/rerank.js";
// Model folders
export { saveEnsemble } from "./model/ensemble.js";
export { type LoadCaptionModelOptions, loadCaptionModel, loadModel } from "./model/load.js";
export { saveModel } from "./model/single.js";
// Images in, captions out
export { ImageCaptioner, type LoadCaptionerOptions, loadCaptioner } from "./captioner/captioner.js";
// Training and evaluation
export { type EvaluateOptions, type EvaluateResult, evaluateModel } from "./evaluation/evaluate.js";
export { mergeTrainConfig, type TrainConfig } from "./training/config.js";
export { type RunTrainingOptions, runTraining } from "./training/run.js";
// Metrics, exactly as the COCO caption evaluation computes them
export { type MetricScores, scoreCaptions } from "./metrics/score.js";
// Photo search
export { indexFolder } from "./search/indexer.js";
export { openPhotoSearch } from "./search/photo-search.js";

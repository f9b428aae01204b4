export { DatasetError, MissingImagesError } from "./errors.js";
export { parseDatasetText } from "./formats/detect.js";
export { checkDatasetFile, type LoadDatasetOptions, loadDataset } from "./load.js";
export { ptbTokenize } from "./ptb-tokenizer.js";
export { readSplitList } from "./splits.js";
export { type DatasetStats, datasetStats, type HistogramBin, type LengthSummary } from "./stats.js";
export type { CaptionDataset, CaptionedImage, DatasetFormat } from "./types.js";
export {
  buildVocabulary,
  END_ID,
  PAD_ID,
  SPECIAL_TOKENS,
  START_ID,
  UNK_ID,
  Vocabulary,
  type VocabularyJson,
  type VocabularyOptions,
} from "./vocabulary.js";

export { ptbTokenize } from "./ptb-tokenizer.js";
export type { CaptionDataset, CaptionedImage, DatasetFormat } from "./types.js";
export {
  END_ID,
  PAD_ID,
  SPECIAL_TOKENS,
  START_ID,
  UNK_ID,
  Vocabulary,
  type VocabularyJson,
  type VocabularyOptions,
} from "./vocabulary.js";

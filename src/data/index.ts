export { ptbTokenize } from "./ptb-tokenizer.js";
export type { CaptionDataset, CaptionedImage, DatasetFormat } from "./types.js";

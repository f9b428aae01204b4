// Alt text in bulk: expand inputs, caption them, write results where people and photo tools read them.
export { type CaptionFilesOptions, captionFiles, planBatch } from "./batch.js";
export { captionEach, loadModel, type ModelLoadOptions, type Settled } from "./captioner.js";
export { HEDGE_PREFIX, hedge, isLowConfidence, presentCaption } from "./confidence.js";
export {
  CSV_HEADER,
  displayCaption,
  formatCsvRow,
  formatText,
  keptNote,
  OUTPUT_FORMATS,
  type OutputFormat,
} from "./format.js";
export { type ExpandOptions, expandInputs, hasImageExtension, IMAGE_EXTENSIONS } from "./inputs.js";
export { CAPTION_WRITER, captionWriterTag, type DescriptionOwner, MetadataWriter } from "./metadata.js";
export { COCO_LABELS, ObjectTagger } from "./object-tagger.js";
export { fileKey, ResultsLog } from "./results-log.js";
export type { AltTextRecord, MetadataTarget } from "./types.js";

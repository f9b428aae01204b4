import type { Vocabulary } from "../data/vocabulary.js";
import type { CaptionDecoder } from "../decoders/types.js";
import { readFeatureBatch } from "../features/batch.js";
import type { FeatureBatch, FeatureReader } from "../features/types.js";
import { bleu } from "../metrics/bleu.js";
import { ciderD } from "../metrics/cider.js";
import {
  type CaptionExample,
  captionFeatures,
  disposeCaptionFeatures,
  type ImageCaptions,
  tokenBatch,
} from "./batches.js";
import { sumCrossEntropy } from "./loss.js";

/** Greedy or beam captioning of a batch of images into words (generation/ owns the algorithm). */
export type DecodeWords = (
  decoder: CaptionDecoder,
  vocabulary: Vocabulary,
  batch: FeatureBatch,
  options: { beam: number; maxLength: number },
) => string[][];

/** Mean per-token cross-entropy of the given captions, teacher-forced, no dropout. */
export function validationLoss(
  decoder: CaptionDecoder,
  reader: FeatureReader,
  images: readonly ImageCaptions[],
  examples: readonly CaptionExample[],
  batchSize: number,
): number {
  let sum = 0;
  let tokens = 0;
  for (let start = 0; start < examples.length; start += batchSize) {
    const chunk = examples.slice(start, start + batchSize);
    const features = captionFeatures(
      reader,
      chunk.map((example) => images[example.image]!.id),
    );
    const batch = tokenBatch(chunk.map((example) => example.ids));
    const { logits } = decoder.forward(features.inputs, batch.inputs, false, features.imageRows);
    const result = sumCrossEntropy(logits, batch.targets);
    logits.dispose();
    disposeCaptionFeatures(features);
    batch.inputs.dispose();
    batch.targets.dispose();
    sum += result.sum;
    tokens += result.tokens;
  }
  return tokens > 0 ? sum / tokens : Number.NaN;
}

export interface CaptionScores {
  bleu4: number;
  ciderD: number;
  /** Generated captions (tokenized words joined by spaces), by image id. */
  captions: Map<string, string>;
}

/** Captions the images with `decode` and scores them against their tokenized references. */
export function scoreImages(
  decoder: CaptionDecoder,
  reader: FeatureReader,
  images: readonly ImageCaptions[],
  vocabulary: Vocabulary,
  decode: DecodeWords,
  options: { beam: number; maxLength: number; batchSize: number },
): CaptionScores {
  const captions = new Map<string, string>();
  const references = new Map<string, string[]>();
  for (let start = 0; start < images.length; start += options.batchSize) {
    const chunk = images.slice(start, start + options.batchSize);
    const batch = readFeatureBatch(
      reader,
      chunk.map((image) => image.id),
    );
    const words = decode(decoder, vocabulary, batch, options);
    chunk.forEach((image, row) => {
      captions.set(image.id, (words[row] ?? []).join(" "));
      references.set(
        image.id,
        image.captions.map((words) => words.join(" ")),
      );
    });
  }
  if (captions.size === 0) return { bleu4: Number.NaN, ciderD: Number.NaN, captions };
  return {
    bleu4: bleu(captions, references).corpus[3] ?? 0,
    ciderD: ciderD(captions, references).corpus,
    captions,
  };
}

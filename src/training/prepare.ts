import { loadDataset } from "../data/load.js";
import { ptbTokenize } from "../data/ptb-tokenizer.js";
import type { CaptionedImage } from "../data/types.js";
import { Vocabulary } from "../data/vocabulary.js";
import type { DecoderShape } from "../decoders/types.js";
import { concatFeatureReaders } from "../features/concat-reader.js";
import type { FeatureReader } from "../features/types.js";
import type { ImageCaptions } from "./batches.js";
import type { TrainConfig } from "./config.js";

/** Features plus tokenized captions of the train and val splits, and the vocabulary built on train. */
export interface TrainData {
  vocabulary: Vocabulary;
  reader: FeatureReader;
  train: ImageCaptions[];
  val: ImageCaptions[];
}

/** Sizes of the decoder a run trains: its vocabulary and the feature grid it reads. */
export function decoderShapeOf(reader: FeatureReader, vocabulary: Vocabulary): DecoderShape {
  const [gridH, gridW, channels] = reader.gridShape;
  return {
    vocabSize: vocabulary.size,
    regions: gridH * gridW,
    featureDim: channels,
    pooledDim: reader.pooledSize,
  };
}

/**
 * Words of a caption as the model sees them: PTB-tokenized and lowercased like the metrics, minus
 * punctuation-only tokens (the metrics drop them too, so learning to emit them would waste capacity).
 */
export function captionWords(text: string): string[] {
  return ptbTokenize(text)
    .map((word) => word.toLowerCase())
    .filter((word) => /[\p{L}\p{N}]/u.test(word));
}

function toImageCaptions(images: readonly CaptionedImage[]): ImageCaptions[] {
  return images.map((image) => ({ id: image.id, captions: image.captions.map(captionWords) }));
}

/**
 * Loads the train and val splits, builds the vocabulary on train, opens the feature cache(s) and keeps
 * the images that have features. `openReader` opens one cache folder (features/ owns the format).
 */
export async function prepareTrainData(
  config: TrainConfig,
  openReader: (dir: string) => FeatureReader | Promise<FeatureReader>,
  log: (line: string) => void = () => {},
): Promise<TrainData> {
  const { data } = config;
  if (!data.dataset)
    throw new Error("training config needs data.dataset (a captions file, e.g. captions.tsv)");
  const dirs = typeof data.features === "string" ? [data.features] : data.features;
  if (dirs.length === 0) {
    throw new Error(
      "training config needs data.features: pass data.features=<dir>, a store folder written by `captionkit features` (presets hold no cache paths)",
    );
  }
  const common = { images: data.images, checkImages: false };
  const [trainSet, valSet] = await Promise.all([
    loadDataset(data.dataset, { ...common, split: data.trainSplit }),
    loadDataset(data.dataset, { ...common, split: data.valSplit }),
  ]);
  const reader = concatFeatureReaders(await Promise.all(dirs.map((dir) => openReader(dir))));
  const available = new Set(reader.ids);
  const keep = (images: ImageCaptions[], split: string) => {
    const kept = images.filter((image) => available.has(image.id));
    if (kept.length < images.length) {
      log(`${images.length - kept.length} of ${images.length} ${split} images have no features; skipped`);
    }
    if (kept.length === 0) {
      throw new Error(
        `no ${split} image has features in ${dirs.join(", ")}: extract features for that split`,
      );
    }
    return kept;
  };
  let train = keep(toImageCaptions(trainSet.images), "train");
  if (data.trainLimit > 0) train = train.slice(0, data.trainLimit);
  const val = keep(toImageCaptions(valSet.images), "val");
  const vocabulary = Vocabulary.build(
    train.flatMap((image) => image.captions),
    { minCount: data.minCount, maxLength: data.maxLength },
  );
  log(
    `train ${train.length} images, val ${val.length} images, vocabulary ${vocabulary.size} words, features ${reader.encoder}`,
  );
  return { vocabulary, reader, train, val };
}

import * as tf from "@tensorflow/tfjs";
import { deriveSeed, Rng } from "../core/rng.js";
import { PAD_ID, type Vocabulary } from "../data/vocabulary.js";
import { toDecoderInputs } from "../decoders/tfjs-runtime.js";
import type { DecoderInputs } from "../decoders/types.js";
import { readerShape, readFeatureBatch } from "../features/batch.js";
import type { FeatureReader } from "../features/types.js";

/** One image of a split with its tokenized reference captions. */
export interface ImageCaptions {
  id: string;
  /** PTB-tokenized, lowercased words of each human caption. */
  captions: string[][];
}

/** One training caption: which image, and its ids `<start> w1 .. wn <end>`. */
export interface CaptionExample {
  image: number;
  ids: number[];
}

export function buildExamples(images: readonly ImageCaptions[], vocabulary: Vocabulary): CaptionExample[] {
  const examples: CaptionExample[] = [];
  images.forEach((image, index) => {
    for (const words of image.captions) examples.push({ image: index, ids: vocabulary.encode(words) });
  });
  return examples;
}

/**
 * The batches of one epoch, fixed by (seed, epoch) alone so a resumed run replays the same order.
 * Captions are shuffled, grouped into buckets of `bucketBatches` batches, sorted by length inside a
 * bucket (so a batch pads to a similar length), cut into batches, and the batch order shuffled again.
 * With `groupByImage` the images are shuffled instead and each image's captions stay side by side
 * (neuraltalk2's seq_per_img), so a batch of 64 Flickr8k captions holds about 13 images: a decoder
 * with a feature head runs it once per image. Length bucketing is off then (it would split the groups).
 */
export function epochBatches(
  examples: readonly CaptionExample[],
  batchSize: number,
  bucketBatches: number,
  seed: number,
  epoch: number,
  groupByImage = false,
): number[][] {
  const rng = new Rng(deriveSeed(seed, epoch));
  if (groupByImage) {
    const byImage = new Map<number, number[]>();
    examples.forEach((example, index) => {
      const group = byImage.get(example.image);
      if (group) group.push(index);
      else byImage.set(example.image, [index]);
    });
    const order = rng.shuffle([...byImage.values()]).flat();
    const batches: number[][] = [];
    for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
    return batches;
  }
  const order = rng.shuffle([...examples.keys()]);
  const bucketSize = batchSize * bucketBatches;
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += bucketSize) {
    const bucket = order.slice(start, start + bucketSize);
    if (bucketBatches > 1) {
      bucket.sort((a, b) => examples[a]!.ids.length - examples[b]!.ids.length || a - b);
    }
    for (let i = 0; i < bucket.length; i += batchSize) batches.push(bucket.slice(i, i + batchSize));
  }
  return rng.shuffle(batches);
}

export interface TokenBatch {
  /** [batch, T] int32 decoder inputs, starting with <start>. */
  inputs: tf.Tensor2D;
  /** [batch, T] int32 next tokens, PAD_ID after the end. */
  targets: tf.Tensor2D;
  /** Real (non-pad) target tokens in the batch. */
  tokenCount: number;
}

/** Teacher-forcing inputs and targets, padded to the longest caption of the batch. */
export function tokenBatch(captions: readonly (readonly number[])[]): TokenBatch {
  const steps = Math.max(...captions.map((ids) => ids.length - 1));
  const inputs = new Int32Array(captions.length * steps).fill(PAD_ID);
  const targets = new Int32Array(captions.length * steps).fill(PAD_ID);
  let tokenCount = 0;
  captions.forEach((ids, row) => {
    for (let t = 0; t < ids.length - 1; t++) {
      inputs[row * steps + t] = ids[t] as number;
      targets[row * steps + t] = ids[t + 1] as number;
      tokenCount += 1;
    }
  });
  return {
    inputs: tf.tensor2d(inputs, [captions.length, steps], "int32"),
    targets: tf.tensor2d(targets, [captions.length, steps], "int32"),
    tokenCount,
  };
}

/** Reads the features of the given images (with a view per image) into decoder input tensors. */
export function featureBatch(
  reader: FeatureReader,
  ids: readonly string[],
  views?: readonly number[],
): DecoderInputs {
  return toDecoderInputs(readFeatureBatch(reader, ids, views), readerShape(reader, 0));
}

/** Teacher-forcing features: each distinct (image, view) once, and which of them each caption reads. */
export interface CaptionFeatures {
  inputs: DecoderInputs;
  /** [captions] int32 rows of `inputs`; undefined when every caption has its own image. */
  imageRows?: tf.Tensor1D;
}

/**
 * featureBatch for a batch of captions that may share images (grouped batches, self-critical samples,
 * validation): every (image, view) is read and stored once, so per-image work in the decoder (a
 * feature head) runs once per image instead of once per caption.
 */
export function captionFeatures(
  reader: FeatureReader,
  ids: readonly string[],
  views?: readonly number[],
): CaptionFeatures {
  const rowOf = new Map<string, number>();
  const distinctIds: string[] = [];
  const distinctViews: number[] = [];
  const rows = ids.map((id, i) => {
    const view = views?.[i] ?? 0;
    const key = `${view}/${id}`;
    let row = rowOf.get(key);
    if (row === undefined) {
      row = distinctIds.length;
      rowOf.set(key, row);
      distinctIds.push(id);
      distinctViews.push(view);
    }
    return row;
  });
  const inputs = featureBatch(reader, distinctIds, distinctViews);
  if (distinctIds.length === ids.length) return { inputs };
  return { inputs, imageRows: tf.tensor1d(rows, "int32") };
}

export function disposeCaptionFeatures(features: CaptionFeatures): void {
  disposeInputs(features.inputs);
  features.imageRows?.dispose();
}

export function disposeInputs(inputs: DecoderInputs): void {
  inputs.grid.dispose();
  inputs.pooled.dispose();
}

import type { FeatureBatch, FeatureReader } from "./types.js";

/**
 * The features of the given images (view `views[i]` of image i, default 0) as one FeatureBatch: the one
 * way cached features become decoder inputs (training, evaluation, memory building).
 */
export function readFeatureBatch(
  reader: FeatureReader,
  ids: readonly string[],
  views?: readonly number[],
): FeatureBatch {
  const [gridH, gridW, channels] = reader.gridShape;
  const width = gridH * gridW * channels;
  const grid = new Float32Array(ids.length * width);
  const pooled = new Float32Array(ids.length * reader.pooledSize);
  ids.forEach((id, row) => {
    const features = reader.read(id, views?.[row] ?? 0);
    grid.set(features.grid, row * width);
    pooled.set(features.pooled, row * reader.pooledSize);
  });
  return { count: ids.length, grid, pooled };
}

/** The decoder shape a reader's features fill (vocabSize is the model's: pass it in). */
export function readerShape(reader: FeatureReader, vocabSize: number) {
  const [gridH, gridW, channels] = reader.gridShape;
  return { vocabSize, regions: gridH * gridW, featureDim: channels, pooledDim: reader.pooledSize };
}

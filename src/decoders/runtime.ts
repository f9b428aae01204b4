import type { FeatureBatch } from "../features/types.js";
import type { DecoderShape } from "./types.js";

export type { FeatureBatch };

export interface StepOutput<S> {
  /** [rows, vocab] log-probabilities of the next token, row-major. */
  logProbs: Float32Array;
  /** [rows, regions] attention weights of this step (attention decoders, one view only). */
  attention?: Float32Array;
  state: S;
}

/**
 * Generation over one opened batch of images. States are opaque to the caller; every call returns a
 * new state and leaves the old one valid until release() (the searches release each state once).
 */
export interface StepSession<S = unknown> {
  /** Initial state: row r starts from image rows[r] of the opened batch (rows may repeat, for beams). */
  start(rows: Int32Array): S;
  /** One step for every row. previous: [rows] tokens emitted at the last step (<start> first). */
  step(state: S, previous: Int32Array): StepOutput<S>;
  /** Reorders/duplicates the rows of a state. rows: [newRows] row indices. */
  gather(state: S, rows: Int32Array): S;
  release(state: S): void;
  /**
   * The first view's image vectors (as DecoderRuntime.imageVectors gives them), when opening the batch
   * computed them already: callers then skip a second pass over the images. Optional.
   */
  imageVectors?(): Float32Array[];
  /** Frees what open() allocated for the batch. */
  close(): void;
}

/**
 * A model's decoder (single, ensemble, with or without a feature head) on one runtime: what the greedy
 * and beam searches, likelihood scoring and the re-rankers need, and nothing of how it is computed.
 */
export interface DecoderRuntime {
  readonly runtime: "tfjs" | "onnx";
  /** The features the decoder reads (for an ensemble: its members' channels side by side). */
  readonly shape: DecoderShape;
  /** Longest caption in words the decoder can produce (a transformer's learned positions are finite). */
  readonly maxWords: number;
  /**
   * Opens a batch for generation: one FeatureBatch per view of the same images (one view, or an image
   * and its mirror image); the next-word probabilities are averaged over the views.
   */
  open(views: readonly FeatureBatch[]): StepSession;
  /**
   * One vector per image: the pooled features the decoder reads after any feature head (for an
   * ensemble, its members' side by side): what caption memories index and n-gram priors read.
   */
  imageVectors(batch: FeatureBatch): Float32Array[];
  /**
   * Length-normalised log p(caption | image) per image (mean over its words and <end>), teacher-forced.
   * captions: word ids without <start>/<end>: one caption for every image, or one per image.
   */
  captionLogProbs(
    batch: FeatureBatch,
    captions: readonly number[] | readonly (readonly number[])[],
  ): Float32Array;
  dispose(): void;
}

/** The images `rows` of a batch, as a new batch (copies). */
export function selectRows(batch: FeatureBatch, rows: readonly number[]): FeatureBatch {
  const gridWidth = batch.grid.length / Math.max(1, batch.count);
  const pooledWidth = batch.pooled.length / Math.max(1, batch.count);
  const grid = new Float32Array(rows.length * gridWidth);
  const pooled = new Float32Array(rows.length * pooledWidth);
  rows.forEach((row, i) => {
    grid.set(batch.grid.subarray(row * gridWidth, (row + 1) * gridWidth), i * gridWidth);
    pooled.set(batch.pooled.subarray(row * pooledWidth, (row + 1) * pooledWidth), i * pooledWidth);
  });
  return { count: rows.length, grid, pooled };
}

/** Images begin .. begin + count - 1 of a batch, as views into its arrays (no copy). */
export function sliceRows(batch: FeatureBatch, begin: number, count: number): FeatureBatch {
  const gridWidth = batch.grid.length / Math.max(1, batch.count);
  const pooledWidth = batch.pooled.length / Math.max(1, batch.count);
  return {
    count,
    grid: batch.grid.subarray(begin * gridWidth, (begin + count) * gridWidth),
    pooled: batch.pooled.subarray(begin * pooledWidth, (begin + count) * pooledWidth),
  };
}

/** Checks that a batch has the decoder's feature sizes (a clear error instead of a shape crash). */
export function checkBatch(batch: FeatureBatch, shape: DecoderShape): void {
  const { regions, featureDim, pooledDim } = shape;
  if (batch.grid.length !== batch.count * regions * featureDim)
    throw new Error(
      `the decoder reads ${regions} regions x ${featureDim} channels per image, got ${batch.grid.length / Math.max(1, batch.count)} values`,
    );
  if (batch.pooled.length !== batch.count * pooledDim)
    throw new Error(
      `the decoder reads ${pooledDim} pooled values per image, got ${batch.pooled.length / Math.max(1, batch.count)}`,
    );
}

/** Longest caption in words a decoder config can produce: a step with w words feeds w + 1 tokens. */
export function decoderCapacity(config: { kind: string; maxLength?: number }): number {
  return config.kind === "transformer" ? (config.maxLength ?? 32) - 1 : Number.POSITIVE_INFINITY;
}

/**
 * captionLogProbs' captions argument as a lookup: one caption for every image, or one per image
 * (checked against the image count).
 */
export function captionPerImage(
  captions: readonly number[] | readonly (readonly number[])[],
  images: number,
): (image: number) => readonly number[] {
  const perImage = Array.isArray(captions[0]);
  if (perImage && captions.length !== images)
    throw new Error(`captionLogProbs: ${captions.length} captions for ${images} images`);
  return (i) => (perImage ? (captions[i] as readonly number[]) : (captions as readonly number[]));
}

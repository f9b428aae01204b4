/**
 * Encoder features of a batch of images as plain arrays: what every decoder runtime reads, whether it
 * runs on tfjs or onnxruntime.
 */
export interface FeatureBatch {
  count: number;
  /** [count, regions, featureDim] */
  grid: Float32Array;
  /** [count, pooledDim] */
  pooled: Float32Array;
}

/** Read side of an on-disk feature cache (written by `captionkit features`). */
export interface FeatureReader {
  readonly encoder: string;
  /** [gridH, gridW, channels] */
  readonly gridShape: readonly [number, number, number];
  readonly pooledSize: number;
  /** Image ids in store order. */
  readonly ids: readonly string[];
  /** Number of views per image: 1 + augmented views. View 0 is the un-augmented image. */
  viewsOf(id: string): number;
  /** Features of one image view, as float32 whatever the stored precision. */
  read(id: string, view?: number): { grid: Float32Array; pooled: Float32Array };
  close(): void;
}

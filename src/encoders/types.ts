/** Output of a frozen image encoder for a batch of N images. */
export interface EncodedBatch {
  /** [N, gridH, gridW, channels] row-major (NHWC), i.e. N x regions x channels. */
  grid: Float32Array;
  /** [N, pooledSize] */
  pooled: Float32Array;
  count: number;
}

import type { Normalization } from "../image/normalization.js";

export type { Normalization };

export interface Encoder {
  /** Registry name, e.g. "mobilenet_v2_mid", "centernet_224", "mobilenet_v2_mid+centernet_224", "onnx:<dir>". */
  readonly name: string;
  /** Square input side in pixels. */
  readonly inputSize: number;
  readonly normalization: Normalization;
  /** [gridH, gridW, channels] */
  readonly gridShape: readonly [number, number, number];
  readonly pooledSize: number;
  /** images: [N, inputSize, inputSize, 3] NHWC float32, already normalized for this encoder. */
  encode(images: Float32Array, count: number): Promise<EncodedBatch>;
  dispose(): void;
}

/**
 * An encoder that shares one run with others (cuts of one graph, see OnnxGraphEncoder.createGroup):
 * `encodeShared` returns the features of every encoder in `sharedWith` from a single pass.
 */
export interface SharedRunEncoder extends Encoder {
  readonly sharedWith: readonly Encoder[];
  encodeShared(images: Float32Array, count: number): Promise<Map<Encoder, EncodedBatch>>;
}

export function isSharedRunEncoder(encoder: Encoder): encoder is SharedRunEncoder {
  return "encodeShared" in encoder && typeof encoder.encodeShared === "function";
}

import * as tf from "@tensorflow/tfjs";
import type { CaptionDecoder, DecoderInputs } from "./types.js";

/** The decoder's per-image vectors ([batch, width]): its own imageVectors, else the encoder's pooled vector. */
export function imageVectors(decoder: CaptionDecoder, inputs: DecoderInputs): tf.Tensor2D {
  return decoder.imageVectors ? decoder.imageVectors(inputs) : tf.clone(inputs.pooled);
}

/** Widths of the parts of imageVectors: one per ensemble member, else one. */
export function imageVectorParts(decoder: CaptionDecoder): number[] {
  return [...(decoder.imageVectorParts ?? [decoder.shape.pooledDim])];
}

/** imageVectors as one Float32Array per image (the tensors are released). */
export function imageVectorRows(decoder: CaptionDecoder, inputs: DecoderInputs): Float32Array[] {
  const flat = imageVectors(decoder, inputs);
  const [rows, width] = flat.shape;
  const values = flat.dataSync() as Float32Array;
  flat.dispose();
  return Array.from({ length: rows }, (_, r) => values.slice(r * width, (r + 1) * width));
}

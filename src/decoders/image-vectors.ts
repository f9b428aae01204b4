import * as tf from "@tensorflow/tfjs";
import { type CaptionDecoder, type DecoderInputs, hasImageVectors } from "./types.js";

/** The decoder's per-image vectors ([batch, width]): its own imageVectors, else the encoder's pooled vector. */
export function imageVectors(decoder: CaptionDecoder, inputs: DecoderInputs): tf.Tensor2D {
  return hasImageVectors(decoder) ? decoder.imageVectors(inputs) : tf.clone(inputs.pooled);
}

/** Widths of the parts of imageVectors: one per ensemble member, else one. */
export function imageVectorParts(decoder: CaptionDecoder): number[] {
  return [...(hasImageVectors(decoder) ? decoder.imageVectorParts : [decoder.shape.pooledDim])];
}

import type * as tf from "@tensorflow/tfjs";
import type { z } from "zod";
import type {
  decoderConfigSchema,
  decoderShapeSchema,
  featureHeadSchema,
  showAttendTellSchema,
  transformerSchema,
} from "./config.js";

export type FeatureHeadConfig = z.output<typeof featureHeadSchema>;
export type ShowAttendTellConfig = z.output<typeof showAttendTellSchema>;
export type TransformerDecoderConfig = z.output<typeof transformerSchema>;
export type DecoderConfig = z.output<typeof decoderConfigSchema>;
export type DecoderShape = z.output<typeof decoderShapeSchema>;

export interface DecoderInputs {
  /** [batch, regions, featureDim] */
  grid: tf.Tensor3D;
  /** [batch, pooledDim] */
  pooled: tf.Tensor2D;
}

/** Opaque per-decoder state carried between generation steps. */
export type DecoderState = Record<string, tf.Tensor>;

export interface DecoderStep {
  /** [batch, vocab] log-probabilities of the next token. */
  logProbs: tf.Tensor2D;
  state: DecoderState;
  /** [batch, regions] attention weights of this step (attention decoders only). */
  attention?: tf.Tensor2D;
}

/** What teacher forcing returns: next-token logits [batch, T, vocab] and an auxiliary loss, if any. */
export interface TeacherForcedOutput {
  logits: tf.Tensor3D;
  auxLoss?: tf.Scalar;
}

export interface CaptionDecoder {
  readonly config: DecoderConfig;
  readonly shape: DecoderShape;
  /** Trainable weights, by stable name (used for checkpoints and gradient averaging). */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  /**
   * Non-trainable state saved with the model (batch-norm running statistics), by stable name. Empty for
   * most configs. Not optimised; data-parallel training may average them.
   */
  readonly buffers?: ReadonlyMap<string, tf.Variable>;
  /**
   * Teacher forcing. tokens: [batch, T] int32, starting with <start>. Returns logits [batch, T, vocab] for
   * the next token at each position, and an auxiliary loss (e.g. doubly stochastic attention) if any.
   * imageRows: [batch] int32, caption i reads image imageRows[i] of inputs (which then holds each image
   * once, so per-image work such as a feature head runs once for all its captions); default image i.
   */
  forward(
    inputs: DecoderInputs,
    tokens: tf.Tensor2D,
    training: boolean,
    imageRows?: tf.Tensor1D,
  ): TeacherForcedOutput;
  /** Initial generation state for a batch of images. */
  start(inputs: DecoderInputs): DecoderState;
  /**
   * One generation step. previous: [batch] int32 tokens emitted at the last step (<start> first).
   * The returned state holds only new tensor objects: the caller may dispose the old state right away.
   */
  step(state: DecoderState, previous: tf.Tensor1D): DecoderStep;
  /** Reorders/duplicates batch rows of a state (beam search). indices: [newBatch] int32. */
  gatherState(state: DecoderState, indices: tf.Tensor1D): DecoderState;
  dispose(): void;
}

/**
 * An optional capability, declared by decoders whose image vectors are not the encoder's pooled vector
 * (a feature head's output, an ensemble's members side by side): one vector per image, [batch, width],
 * for nearest-neighbour lookups (caption memories) and n-gram priors.
 */
export interface ImageVectorSource {
  imageVectors(inputs: DecoderInputs): tf.Tensor2D;
  /** Widths of the parts of imageVectors (one per ensemble member). */
  readonly imageVectorParts: readonly number[];
}

export function hasImageVectors(decoder: CaptionDecoder): decoder is CaptionDecoder & ImageVectorSource {
  return typeof (decoder as Partial<ImageVectorSource>).imageVectors === "function";
}

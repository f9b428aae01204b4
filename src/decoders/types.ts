import type * as tf from "@tensorflow/tfjs";

export interface ShowAttendTellConfig {
  kind: "show-attend-tell";
  embedDim: number;
  hiddenDim: number;
  attentionDim: number;
  dropout: number;
}

export interface TransformerDecoderConfig {
  kind: "transformer";
  layers: number;
  modelDim: number;
  heads: number;
  feedForwardDim: number;
  dropout: number;
  /** Longest token sequence (including <start>) the learned positions cover. */
  maxLength: number;
}

export type DecoderConfig = ShowAttendTellConfig | TransformerDecoderConfig;

/** What every decoder needs to know about its inputs, besides its own config. */
export interface DecoderShape {
  vocabSize: number;
  /** Grid regions (gridH * gridW) and their channel count. */
  regions: number;
  featureDim: number;
  pooledDim: number;
}

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

export interface CaptionDecoder {
  readonly config: DecoderConfig;
  readonly shape: DecoderShape;
  /** Trainable weights, by stable name (used for checkpoints and gradient averaging). */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  /**
   * Teacher forcing. tokens: [batch, T] int32, starting with <start>. Returns logits [batch, T, vocab] for
   * the next token at each position, and an auxiliary loss (e.g. doubly stochastic attention) if any.
   */
  forward(
    inputs: DecoderInputs,
    tokens: tf.Tensor2D,
    training: boolean,
  ): { logits: tf.Tensor3D; auxLoss?: tf.Scalar };
  /** Initial generation state for a batch of images. */
  start(inputs: DecoderInputs): DecoderState;
  /** One generation step. previous: [batch] int32 tokens emitted at the last step (<start> first). */
  step(state: DecoderState, previous: tf.Tensor1D): DecoderStep;
  /** Reorders/duplicates batch rows of a state (beam search). indices: [newBatch] int32. */
  gatherState(state: DecoderState, indices: tf.Tensor1D): DecoderState;
  dispose(): void;
}

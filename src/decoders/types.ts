import type * as tf from "@tensorflow/tfjs";

/**
 * Trainable layers between the feature cache and the decoder proper, so training can fine-tune the end of
 * the encoder. "centernet-tail" runs CenterNet's last two backbone blocks and its `extern1` neck on the
 * `centernet_448_block12_grid14` features (starting from the graph's weights), then averages the 14x14
 * grid over gridPool x gridPool blocks: with gridPool 2 the decoder proper sees exactly `centernet_448`.
 * With output "expand" it stops at block 14's expanded depthwise output instead (720 channels: with
 * gridPool 2, exactly `centernet_448_expand`).
 */
export interface FeatureHeadConfig {
  kind: "centernet-tail";
  gridPool: 1 | 2;
  /** Default "neck". */
  output?: "neck" | "expand";
}

export interface ShowAttendTellConfig {
  kind: "show-attend-tell";
  embedDim: number;
  hiddenDim: number;
  attentionDim: number;
  dropout: number;
  /**
   * Weight of the doubly stochastic attention regularisation returned as `auxLoss`:
   * lambda * mean over the batch of sum over regions of (1 - sum over time of alpha)^2. Default 1.0.
   */
  attentionRegularization?: number;
  /** Batch-normalise the grid and pooled features before use (running statistics saved with the model). Default false. */
  featureBatchNorm?: boolean;
  /**
   * The attention gate beta = sigmoid(f_beta(h)) that scales the context: "channel" (default) has one
   * gate per feature channel, as the widely used PyTorch reference implementation (and the 509 tokens/s
   * figure in DESIGN.md); "scalar" has one per step, as in the paper.
   */
  gate?: "channel" | "scalar";
  featureHead?: FeatureHeadConfig;
}

export interface TransformerDecoderConfig {
  kind: "transformer";
  layers: number;
  modelDim: number;
  heads: number;
  feedForwardDim: number;
  dropout: number;
  /** Longest token sequence (including <start>) the learned positions cover. Default 32. */
  maxLength?: number;
  featureHead?: FeatureHeadConfig;
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
   * One vector per image, [batch, width]: the pooled features the decoder reads after any feature head,
   * for nearest-neighbour lookups (caption memories). Decoders without a head may leave it out; callers
   * then use inputs.pooled (see imageVectors in decoders/image-vectors.ts).
   */
  imageVectors?(inputs: DecoderInputs): tf.Tensor2D;
  /** Widths of the parts of imageVectors (one per ensemble member); default [shape.pooledDim]. */
  readonly imageVectorParts?: readonly number[];
  /**
   * One generation step. previous: [batch] int32 tokens emitted at the last step (<start> first).
   * The returned state holds only new tensor objects: the caller may dispose the old state right away.
   */
  step(state: DecoderState, previous: tf.Tensor1D): DecoderStep;
  /** Reorders/duplicates batch rows of a state (beam search). indices: [newBatch] int32. */
  gatherState(state: DecoderState, indices: tf.Tensor1D): DecoderState;
  dispose(): void;
}

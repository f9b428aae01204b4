import * as tf from "@tensorflow/tfjs";
import { PAD_ID } from "../data/vocabulary.js";
import {
  type AdditiveAttentionWeights,
  additiveAttention,
  applyDense,
  type BatchNormWeights,
  batchNorm,
  type Dropout,
  type HiddenProducts,
  lstmCell,
  makeDropout,
  noDropout,
  selectImageRows,
  tanh,
} from "./layers.js";
import { type Dense, dense, ParamStore } from "./params.js";
import { type Projection, plainProjection, stepProjection } from "./step-projection.js";
import type {
  CaptionDecoder,
  DecoderInputs,
  DecoderShape,
  DecoderState,
  DecoderStep,
  ShowAttendTellConfig,
  TeacherForcedOutput,
} from "./types.js";

interface Weights {
  embedding: tf.Variable;
  initH: Dense;
  initC: Dense;
  encoderProjection: Dense;
  attention: AdditiveAttentionWeights;
  /** Embedding part of the LSTM input (its bias is the LSTM bias, forget gate at 1). */
  lstmEmbed: Dense;
  /** Context part of the LSTM input: [featureDim, 4*hidden]. */
  lstmContext: tf.Variable;
  lstmRecurrent: tf.Variable;
  output: Dense;
  gridNorm?: BatchNormWeights;
  pooledNorm?: BatchNormWeights;
}

interface StepProjections {
  /** The hidden state's products: the attention's two and the recurrent gates. */
  hidden: (h: tf.Tensor2D) => { attention: HiddenProducts; recurrent: tf.Tensor2D };
  context: Projection;
}

interface Features {
  grid: tf.Tensor3D;
  /** [batch, regions, attentionDim] */
  gridProjected: tf.Tensor3D;
  h: tf.Tensor2D;
  c: tf.Tensor2D;
}

/**
 * Show, Attend and Tell (Xu et al. 2015), soft attention: an LSTM whose input at each step is the previous
 * word's embedding and a gated, attention-weighted sum of the grid features; h0/c0 come from the pooled
 * feature (the mean grid feature when the encoder has no pooled output); dropout before the output layer.
 */
export class ShowAttendTellDecoder implements CaptionDecoder {
  readonly config: ShowAttendTellConfig;
  readonly shape: DecoderShape;
  readonly variables: ReadonlyMap<string, tf.Variable>;
  readonly buffers: ReadonlyMap<string, tf.Variable>;
  private readonly store: ParamStore;
  private readonly w: Weights;
  private readonly seed: number;
  private dropoutCalls = 0;

  constructor(config: ShowAttendTellConfig, shape: DecoderShape, seed = 1) {
    this.config = {
      ...config,
      attentionRegularization: config.attentionRegularization ?? 1,
      featureBatchNorm: config.featureBatchNorm ?? false,
      gate: config.gate ?? "channel",
    };
    this.shape = shape;
    this.seed = seed;
    const store = new ParamStore(seed);
    const { embedDim, hiddenDim, attentionDim } = config;
    const { vocabSize, featureDim, pooledDim } = shape;
    const initDim = pooledDim > 0 ? pooledDim : featureDim;
    const lstmBias = new Float32Array(4 * hiddenDim);
    lstmBias.fill(1, hiddenDim, 2 * hiddenDim); // forget-gate bias 1: remember by default early in training
    const lstmEmbed = dense(store, "sat/lstm/embed", embedDim, 4 * hiddenDim);
    tf.tidy(() => (lstmEmbed.bias as tf.Variable).assign(tf.tensor1d(lstmBias)));
    this.w = {
      embedding: store.uniform("sat/embedding", [vocabSize, embedDim], 0.1),
      initH: dense(store, "sat/init_h", initDim, hiddenDim),
      initC: dense(store, "sat/init_c", initDim, hiddenDim),
      encoderProjection: dense(store, "sat/attention/encoder", featureDim, attentionDim),
      attention: {
        decoder: dense(store, "sat/attention/decoder", hiddenDim, attentionDim),
        score: dense(store, "sat/attention/score", attentionDim, 1),
        gate: dense(store, "sat/attention/gate", hiddenDim, this.config.gate === "scalar" ? 1 : featureDim),
      },
      lstmEmbed,
      lstmContext: store.glorot("sat/lstm/context", featureDim, 4 * hiddenDim),
      lstmRecurrent: store.glorot("sat/lstm/recurrent", hiddenDim, 4 * hiddenDim),
      output: dense(store, "sat/output", hiddenDim, vocabSize),
    };
    if (config.featureBatchNorm) {
      const norm = (name: string, size: number): BatchNormWeights => ({
        gamma: store.constant(`${name}/gamma`, [size], 1) as tf.Variable<tf.Rank.R1>,
        beta: store.constant(`${name}/beta`, [size], 0) as tf.Variable<tf.Rank.R1>,
        movingMean: store.buffer(`${name}/moving_mean`, [size], 0),
        movingVariance: store.buffer(`${name}/moving_variance`, [size], 1),
      });
      this.w.gridNorm = norm("sat/grid_norm", featureDim);
      if (pooledDim > 0) this.w.pooledNorm = norm("sat/pooled_norm", pooledDim);
    }
    this.store = store;
    this.variables = store.variables;
    this.buffers = store.buffers;
  }

  private dropout(training: boolean): Dropout {
    if (!training) return noDropout;
    return makeDropout(this.config.dropout, () => this.seed * 7919 + this.dropoutCalls++);
  }

  /** Normalised features, the attention's encoder projection and the initial LSTM state. */
  private prepare(inputs: DecoderInputs, training: boolean): Features {
    let grid = inputs.grid;
    let pooled: tf.Tensor = inputs.pooled;
    if (this.w.gridNorm) grid = batchNorm(grid, this.w.gridNorm, training) as tf.Tensor3D;
    if (this.w.pooledNorm) pooled = batchNorm(pooled, this.w.pooledNorm, training);
    const initSource = this.shape.pooledDim > 0 ? pooled : tf.mean(grid, 1); // [batch, initDim]
    return {
      grid,
      gridProjected: applyDense(grid, this.w.encoderProjection) as tf.Tensor3D, // [batch, regions, att]
      h: tanh(applyDense(initSource, this.w.initH)) as tf.Tensor2D, // [batch, hidden]
      c: tanh(applyDense(initSource, this.w.initC)) as tf.Tensor2D, // [batch, hidden]
    };
  }

  /**
   * The products a teacher-forced pass takes of each step's state, each a stepProjection so its weight
   * gradient is one product over all steps (the backward pass's costliest part otherwise). The hidden
   * state's three products (attention, gate, recurrent) are one product with the kernels side by side.
   */
  private teacherForcedProjections(): StepProjections {
    const { attention, lstmRecurrent, lstmContext } = this.w;
    const sizes = [attention.decoder.kernel, attention.gate.kernel, lstmRecurrent].map(
      (k) => k.shape[1] as number,
    );
    const kernel = tf.concat(
      [attention.decoder.kernel, attention.gate.kernel, lstmRecurrent],
      1,
    ) as tf.Tensor2D;
    const bias = tf.concat([attention.decoder.bias, attention.gate.bias, tf.zeros([sizes[2]!])]);
    const fused = stepProjection(kernel, bias as tf.Tensor1D);
    return {
      hidden: (h) => {
        const [decoder, gate, recurrent] = tf.split(fused(h), sizes, 1) as tf.Tensor2D[];
        return { attention: { decoder: decoder!, gate: gate! }, recurrent: recurrent! };
      },
      context: stepProjection(lstmContext as tf.Tensor2D),
    };
  }

  /** The same products for one decoding step, as plain products. */
  private stepProjections(): StepProjections {
    const { attention, lstmRecurrent, lstmContext } = this.w;
    return {
      hidden: (h) => ({
        attention: {
          decoder: applyDense(h, attention.decoder) as tf.Tensor2D,
          gate: applyDense(h, attention.gate) as tf.Tensor2D,
        },
        recurrent: tf.matMul(h, lstmRecurrent as tf.Tensor2D),
      }),
      context: plainProjection(lstmContext as tf.Tensor2D),
    };
  }

  /** One LSTM step given the embedding part of the input gates. */
  private cell(
    features: Features,
    h: tf.Tensor2D,
    c: tf.Tensor2D,
    embedGates: tf.Tensor2D,
    project: StepProjections,
  ) {
    const { gridProjected, grid } = features;
    const fromHidden = project.hidden(h);
    const { context, alpha } = additiveAttention(
      gridProjected,
      grid,
      h,
      this.w.attention,
      fromHidden.attention,
    );
    const inputGates = tf.add(embedGates, project.context(context)) as tf.Tensor2D; // [batch, 4H]
    return { ...lstmCell(inputGates, h, c, () => fromHidden.recurrent), alpha };
  }

  forward(
    inputs: DecoderInputs,
    tokens: tf.Tensor2D,
    training: boolean,
    imageRows?: tf.Tensor1D,
  ): TeacherForcedOutput {
    return tf.tidy(() => {
      const [batch, steps] = tokens.shape;
      const features = this.prepare(selectImageRows(inputs, imageRows), training);
      // Time-major [T, batch, ...] so each step's slice is contiguous (unstacking the middle axis, and
      // its gradient, cost wasm 10 ms a call at the reference size).
      const embedded = tf.gather(this.w.embedding, tf.transpose(tokens)); // [T, batch, embed]
      // Every step's embedding contribution to the gates in one product.
      const embedGates = tf.unstack(applyDense(embedded, this.w.lstmEmbed)) as tf.Tensor2D[]; // T x [batch, 4H]
      let { h, c } = features;
      const hiddens: tf.Tensor2D[] = [];
      const alphas: tf.Tensor2D[] = [];
      const project = this.teacherForcedProjections();
      for (let t = 0; t < steps; t++) {
        const next = this.cell(features, h, c, embedGates[t] as tf.Tensor2D, project);
        h = next.h;
        c = next.c;
        hiddens.push(h);
        alphas.push(next.alpha);
      }
      const hidden = tf.transpose(tf.stack(hiddens), [1, 0, 2]); // [batch, T, hidden]
      const logits = applyDense(this.dropout(training)(hidden), this.w.output) as tf.Tensor3D; // [batch, T, vocab]
      const lambda = this.config.attentionRegularization ?? 1;
      if (lambda === 0) return { logits };
      // Doubly stochastic regularisation: each region should receive about one unit of attention over
      // the caption. Steps whose input token is <pad> do not count.
      const mask = tf.cast(tf.notEqual(tf.transpose(tokens), PAD_ID), "float32").reshape([steps, batch, 1]); // [T, batch, 1]
      const coverage = tf.sum(tf.mul(tf.stack(alphas), mask), 0); // [batch, regions]
      const auxLoss = tf.mul(tf.mean(tf.sum(tf.square(tf.sub(1, coverage)), 1)), lambda) as tf.Scalar;
      return { logits, auxLoss };
    });
  }

  start(inputs: DecoderInputs): DecoderState {
    return tf.tidy(() => {
      const features = this.prepare(inputs, false);
      return {
        grid: tf.clone(features.grid),
        gridProjected: features.gridProjected,
        h: features.h,
        c: features.c,
      };
    });
  }

  step(state: DecoderState, previous: tf.Tensor1D): DecoderStep {
    return tf.tidy(() => {
      const features = state as unknown as Features;
      const embedded = tf.gather(this.w.embedding, previous); // [batch, embed]
      const embedGates = applyDense(embedded, this.w.lstmEmbed) as tf.Tensor2D; // [batch, 4H]
      const project = this.stepProjections();
      const { h, c, alpha } = this.cell(features, features.h, features.c, embedGates, project);
      const logProbs = tf.logSoftmax(applyDense(h, this.w.output)) as tf.Tensor2D; // [batch, vocab]
      const next = { grid: tf.clone(features.grid), gridProjected: tf.clone(features.gridProjected), h, c };
      return { logProbs, state: next, attention: alpha };
    });
  }

  gatherState(state: DecoderState, indices: tf.Tensor1D): DecoderState {
    return tf.tidy(() =>
      Object.fromEntries(Object.entries(state).map(([key, t]) => [key, tf.gather(t, indices)])),
    );
  }

  dispose(): void {
    this.store.dispose();
  }
}

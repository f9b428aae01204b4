import * as tf from "@tensorflow/tfjs";
import {
  applyDense,
  causalMask,
  type Dropout,
  type LayerNormWeights,
  layerNorm,
  makeDropout,
  noDropout,
  projectHeads,
  selectImageRows,
  type TransformerBlockWeights,
  transformerBlock,
  transformerBlockStep,
} from "./layers.js";
import { type Dense, dense, ParamStore } from "./params.js";
import type {
  CaptionDecoder,
  DecoderInputs,
  DecoderShape,
  DecoderState,
  DecoderStep,
  TeacherForcedOutput,
  TransformerDecoderConfig,
} from "./types.js";

const DEFAULT_MAX_LENGTH = 32;
/** Uniform limit giving a standard deviation of 0.02 (the usual transformer embedding init). */
const EMBED_LIMIT = 0.02 * Math.sqrt(3);

interface Weights {
  embedding: tf.Variable;
  positions: tf.Variable;
  gridProjection: Dense;
  pooledProjection?: Dense;
  /** One learned vector per memory slot (pooled token first, then the grid regions in raster order). */
  memoryPositions: tf.Variable;
  memoryNorm: LayerNormWeights;
  blocks: TransformerBlockWeights[];
  finalNorm: LayerNormWeights;
  output: Dense;
}

/**
 * Pre-LN transformer decoder: token embeddings + learned positions, N blocks of masked self-attention,
 * cross-attention to the image memory (the pooled token and the grid tokens, each projected to modelDim,
 * plus learned slot positions), feed-forward; a final layer norm and the vocabulary projection.
 *
 * Generation caches keys and values: the memory's cross-attention keys/values are projected once per
 * image (start), and each step projects only the new token and appends it to the self-attention cache,
 * so a step costs the same at every position. (A test checks step-by-step logits equal teacher-forced.)
 */
export class TransformerDecoder implements CaptionDecoder {
  readonly config: TransformerDecoderConfig & { maxLength: number };
  readonly shape: DecoderShape;
  readonly variables: ReadonlyMap<string, tf.Variable>;
  readonly buffers: ReadonlyMap<string, tf.Variable>;
  private readonly store: ParamStore;
  private readonly w: Weights;
  private readonly seed: number;
  private dropoutCalls = 0;

  constructor(config: TransformerDecoderConfig, shape: DecoderShape, seed = 1) {
    this.config = { ...config, maxLength: config.maxLength ?? DEFAULT_MAX_LENGTH };
    if (config.modelDim % config.heads !== 0) {
      throw new Error(`transformer: modelDim ${config.modelDim} must be divisible by heads ${config.heads}`);
    }
    this.shape = shape;
    this.seed = seed;
    const store = new ParamStore(seed);
    const { modelDim: d, feedForwardDim, layers } = config;
    const norm = (name: string): LayerNormWeights => ({
      gamma: store.constant(`${name}/gamma`, [d], 1) as tf.Variable<tf.Rank.R1>,
      beta: store.constant(`${name}/beta`, [d], 0) as tf.Variable<tf.Rank.R1>,
    });
    const attention = (name: string) => ({
      query: dense(store, `${name}/query`, d, d),
      key: dense(store, `${name}/key`, d, d),
      value: dense(store, `${name}/value`, d, d),
      output: dense(store, `${name}/output`, d, d),
    });
    const memorySlots = shape.regions + (shape.pooledDim > 0 ? 1 : 0);
    this.w = {
      embedding: store.uniform("transformer/embedding", [shape.vocabSize, d], EMBED_LIMIT),
      positions: store.uniform("transformer/positions", [this.config.maxLength, d], EMBED_LIMIT),
      gridProjection: dense(store, "transformer/memory/grid", shape.featureDim, d),
      pooledProjection:
        shape.pooledDim > 0 ? dense(store, "transformer/memory/pooled", shape.pooledDim, d) : undefined,
      memoryPositions: store.uniform("transformer/memory/positions", [memorySlots, d], EMBED_LIMIT),
      memoryNorm: norm("transformer/memory/norm"),
      blocks: Array.from({ length: layers }, (_, i) => ({
        selfNorm: norm(`transformer/layer${i}/self_norm`),
        selfAttention: attention(`transformer/layer${i}/self_attention`),
        crossNorm: norm(`transformer/layer${i}/cross_norm`),
        crossAttention: attention(`transformer/layer${i}/cross_attention`),
        feedForwardNorm: norm(`transformer/layer${i}/ff_norm`),
        feedForwardIn: dense(store, `transformer/layer${i}/ff_in`, d, feedForwardDim),
        feedForwardOut: dense(store, `transformer/layer${i}/ff_out`, feedForwardDim, d),
      })),
      finalNorm: norm("transformer/final_norm"),
      output: dense(store, "transformer/output", d, shape.vocabSize),
    };
    this.store = store;
    this.variables = store.variables;
    this.buffers = store.buffers;
  }

  private dropout(training: boolean): Dropout {
    if (!training) return noDropout;
    return makeDropout(this.config.dropout, () => this.seed * 7919 + this.dropoutCalls++);
  }

  /** [batch, slots, modelDim]: pooled token (if any) then grid tokens, with slot positions, normalised. */
  private memory(inputs: DecoderInputs, dropout: Dropout): tf.Tensor3D {
    const grid = applyDense(inputs.grid, this.w.gridProjection) as tf.Tensor3D; // [batch, regions, d]
    const parts: tf.Tensor3D[] = [grid];
    if (this.w.pooledProjection) {
      const [batch] = inputs.pooled.shape;
      const pooled = applyDense(inputs.pooled, this.w.pooledProjection).reshape([
        batch,
        1,
        this.config.modelDim,
      ]);
      parts.unshift(pooled as tf.Tensor3D); // [batch, 1, d]
    }
    const slots = tf.add(parts.length === 1 ? grid : tf.concat(parts, 1), this.w.memoryPositions);
    return layerNorm(dropout(slots), this.w.memoryNorm) as tf.Tensor3D;
  }

  /** Logits for every prefix position. tokens: [batch, T]; memory: [batch, slots, d]. */
  private decode(tokens: tf.Tensor2D, memory: tf.Tensor3D, dropout: Dropout): tf.Tensor3D {
    const steps = tokens.shape[1];
    if (steps > this.config.maxLength) {
      throw new Error(`transformer: ${steps} tokens exceed the model's maxLength ${this.config.maxLength}`);
    }
    const positions = tf.slice(this.w.positions, [0, 0], [steps, this.config.modelDim]); // [T, d]
    let x = dropout(tf.add(tf.gather(this.w.embedding, tokens), positions)) as tf.Tensor3D; // [batch, T, d]
    const mask = causalMask(steps);
    for (const block of this.w.blocks)
      x = transformerBlock(x, memory, block, this.config.heads, mask, dropout);
    return applyDense(layerNorm(x, this.w.finalNorm), this.w.output) as tf.Tensor3D; // [batch, T, vocab]
  }

  forward(
    inputs: DecoderInputs,
    tokens: tf.Tensor2D,
    training: boolean,
    imageRows?: tf.Tensor1D,
  ): TeacherForcedOutput {
    return tf.tidy(() => {
      const dropout = this.dropout(training);
      const memory = this.memory(selectImageRows(inputs, imageRows), dropout);
      return { logits: this.decode(tokens, memory, dropout) };
    });
  }

  /** State: per layer, the memory's cross-attention keys/values (and, after a step, the self-attention cache). */
  start(inputs: DecoderInputs): DecoderState {
    return tf.tidy(() => {
      const memory = this.memory(inputs, noDropout); // [batch, slots, d]
      const state: DecoderState = {};
      this.w.blocks.forEach((block, i) => {
        state[`cross_key_${i}`] = projectHeads(memory, block.crossAttention.key, this.config.heads);
        state[`cross_value_${i}`] = projectHeads(memory, block.crossAttention.value, this.config.heads);
      });
      return state;
    });
  }

  step(state: DecoderState, previous: tf.Tensor1D): DecoderStep {
    return tf.tidy(() => {
      const [batch] = previous.shape;
      const position = state.self_key_0 ? (state.self_key_0.shape[2] as number) : 0; // tokens already seen
      if (position >= this.config.maxLength) {
        throw new Error(`transformer: more than ${this.config.maxLength} tokens (the model's maxLength)`);
      }
      const d = this.config.modelDim;
      const positionVector = tf.slice(this.w.positions, [position, 0], [1, d]); // [1, d]
      let x = tf
        .add(tf.gather(this.w.embedding, previous), positionVector)
        .reshape([batch, 1, d]) as tf.Tensor3D;
      const next: DecoderState = {};
      this.w.blocks.forEach((block, i) => {
        const cache = {
          selfKey: state[`self_key_${i}`] as tf.Tensor4D | undefined,
          selfValue: state[`self_value_${i}`] as tf.Tensor4D | undefined,
          crossKey: state[`cross_key_${i}`] as tf.Tensor4D,
          crossValue: state[`cross_value_${i}`] as tf.Tensor4D,
        };
        const out = transformerBlockStep(x, cache, block, this.config.heads);
        x = out.x;
        next[`self_key_${i}`] = out.selfKey;
        next[`self_value_${i}`] = out.selfValue;
        next[`cross_key_${i}`] = tf.clone(cache.crossKey);
        next[`cross_value_${i}`] = tf.clone(cache.crossValue);
      });
      const logits = applyDense(layerNorm(x, this.w.finalNorm), this.w.output).reshape([batch, -1]); // [batch, vocab]
      return { logProbs: tf.logSoftmax(logits) as tf.Tensor2D, state: next };
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

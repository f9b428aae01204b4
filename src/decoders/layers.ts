import * as tf from "@tensorflow/tfjs";
import { nativeTanhFor } from "../tfjs/native-elementwise.js";
import type { Dense } from "./params.js";
import type { Projection } from "./step-projection.js";
import type { DecoderInputs } from "./types.js";

/*
 * Layers as pure functions over tensors and weight records, so each one can be gradient-checked alone
 * and both decoders share them. No tf.layers: plain ops keep shapes, names and memory under our control.
 */

/** x: [..., in] -> [..., out]. */
/**
 * Each caption's image features when a batch holds every image once (imageRows[i] = image of caption i);
 * the inputs unchanged without imageRows. Call inside a tidy.
 */
export function selectImageRows(inputs: DecoderInputs, imageRows?: tf.Tensor1D): DecoderInputs {
  if (!imageRows) return inputs;
  return { grid: tf.gather(inputs.grid, imageRows), pooled: tf.gather(inputs.pooled, imageRows) };
}

export function applyDense(x: tf.Tensor, weights: Dense): tf.Tensor {
  // No reshapes for 2-D inputs: at batch 1 a decoding step costs more in per-kernel overhead than in
  // arithmetic. (tf.fused.matMul was not faster on wasm: it reshapes internally.)
  const dense2d = (a: tf.Tensor2D) => tf.add(tf.matMul(a, weights.kernel), weights.bias) as tf.Tensor2D;
  if (x.shape.length === 2) return dense2d(x as tf.Tensor2D);
  const inner = x.shape[x.shape.length - 1] as number;
  const outer = x.shape.slice(0, -1);
  const y = dense2d(x.reshape([-1, inner]) as tf.Tensor2D); // [rows, out]
  return y.reshape([...outer, weights.kernel.shape[1]]); // [..., out]
}

export interface LayerNormWeights {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

/** Normalises over the last axis. */
export function layerNorm(x: tf.Tensor, weights: LayerNormWeights, epsilon = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(
    tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon))), weights.gamma),
    weights.beta,
  );
}

/**
 * tanh(x) = 2·sigmoid(2x) - 1. The wasm backend's Tanh kernel is ~10x slower than its Sigmoid kernel
 * (measured on [32, 49, 512]), and tanh of the attention energies runs at every decoding step. Where
 * tf.tanh runs on onnxruntime (training with native products), tf.tanh it is.
 */
export function tanh(x: tf.Tensor): tf.Tensor {
  if (nativeTanhFor(x)) return tf.tanh(x);
  return tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1);
}

export type Dropout = (x: tf.Tensor) => tf.Tensor;
export const noDropout: Dropout = (x) => x;

/** Inverted dropout with a fresh seed per call, drawn from a seeded counter (reproducible runs). */
export function makeDropout(rate: number, nextSeed: () => number): Dropout {
  if (rate <= 0) return noDropout;
  return (x) => tf.dropout(x, rate, undefined, nextSeed());
}

export interface AttentionWeights {
  query: Dense;
  key: Dense;
  value: Dense;
  output: Dense;
}

/** Projects then splits into heads: [batch, T, dim] -> [batch, heads, T, dim / heads]. */
export function projectHeads(x: tf.Tensor3D, weights: Dense, heads: number): tf.Tensor4D {
  const [batch, length, dim] = x.shape;
  const projected = applyDense(x, weights).reshape([batch, length, heads, dim / heads]); // [batch, T, heads, headDim]
  return projected.transpose([0, 2, 1, 3]) as tf.Tensor4D; // [batch, heads, T, headDim]
}

/**
 * Scaled dot-product attention of projected heads, then the output projection.
 * q: [batch, heads, Tq, headDim]; k, v: [batch, heads, Tk, headDim]; mask: additive [Tq, Tk] or undefined.
 * Returns [batch, Tq, dim].
 */
export function attend(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  output: Dense,
  mask?: tf.Tensor2D,
  dropout: Dropout = noDropout,
): tf.Tensor3D {
  const [batch, heads, tq, headDim] = q.shape;
  let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim)); // [batch, heads, Tq, Tk]
  if (mask) scores = tf.add(scores, mask);
  const probs = dropout(tf.softmax(scores, -1)) as tf.Tensor4D; // [batch, heads, Tq, Tk]
  const mixed = tf
    .matMul(probs, v)
    .transpose([0, 2, 1, 3])
    .reshape([batch, tq, heads * headDim]); // [batch, Tq, dim]
  return applyDense(mixed, output) as tf.Tensor3D;
}

/**
 * Multi-head scaled dot-product attention.
 * queries: [batch, Tq, dim]; memory: [batch, Tk, dim]; mask: additive [Tq, Tk] (0 or -1e9) or undefined.
 */
export function multiHeadAttention(
  queries: tf.Tensor3D,
  memory: tf.Tensor3D,
  weights: AttentionWeights,
  heads: number,
  mask?: tf.Tensor2D,
  dropout: Dropout = noDropout,
): tf.Tensor3D {
  const q = projectHeads(queries, weights.query, heads);
  const k = projectHeads(memory, weights.key, heads);
  const v = projectHeads(memory, weights.value, heads);
  return attend(q, k, v, weights.output, mask, dropout);
}

/** [T, T] additive mask hiding future positions. */
export function causalMask(length: number): tf.Tensor2D {
  const values = new Float32Array(length * length);
  for (let i = 0; i < length; i++) for (let j = i + 1; j < length; j++) values[i * length + j] = -1e9;
  return tf.tensor2d(values, [length, length]);
}

export interface TransformerBlockWeights {
  selfNorm: LayerNormWeights;
  selfAttention: AttentionWeights;
  crossNorm: LayerNormWeights;
  crossAttention: AttentionWeights;
  feedForwardNorm: LayerNormWeights;
  feedForwardIn: Dense;
  feedForwardOut: Dense;
}

/** Pre-LN decoder block. x: [batch, T, dim]; memory: [batch, M, dim]; mask: [T, T] causal. */
export function transformerBlock(
  x: tf.Tensor3D,
  memory: tf.Tensor3D,
  weights: TransformerBlockWeights,
  heads: number,
  mask: tf.Tensor2D,
  dropout: Dropout = noDropout,
): tf.Tensor3D {
  const selfIn = layerNorm(x, weights.selfNorm) as tf.Tensor3D;
  let h = tf.add(x, dropout(multiHeadAttention(selfIn, selfIn, weights.selfAttention, heads, mask, dropout)));
  const crossIn = layerNorm(h, weights.crossNorm) as tf.Tensor3D;
  h = tf.add(
    h,
    dropout(multiHeadAttention(crossIn, memory, weights.crossAttention, heads, undefined, dropout)),
  );
  const ffIn = layerNorm(h, weights.feedForwardNorm);
  const inner = dropout(tf.relu(applyDense(ffIn, weights.feedForwardIn)));
  return tf.add(h, dropout(applyDense(inner, weights.feedForwardOut))) as tf.Tensor3D;
}

/** Keys and values a decoding step reuses: [batch, heads, T, headDim] each. */
export interface BlockCache {
  /** Self-attention keys/values of the tokens so far (absent before the first token). */
  selfKey?: tf.Tensor4D;
  selfValue?: tf.Tensor4D;
  /** Cross-attention keys/values of the image memory (computed once per image). */
  crossKey: tf.Tensor4D;
  crossValue: tf.Tensor4D;
}

/**
 * transformerBlock for one new token with cached keys and values: x: [batch, 1, dim]. Equal to the last
 * position of transformerBlock over the whole prefix (no mask needed: the cache holds only the past).
 * Returns the block output and the self-attention cache extended by this token.
 */
export function transformerBlockStep(
  x: tf.Tensor3D,
  cache: BlockCache,
  weights: TransformerBlockWeights,
  heads: number,
): { x: tf.Tensor3D; selfKey: tf.Tensor4D; selfValue: tf.Tensor4D } {
  const selfIn = layerNorm(x, weights.selfNorm) as tf.Tensor3D;
  const self = weights.selfAttention;
  const newKey = projectHeads(selfIn, self.key, heads); // [batch, heads, 1, headDim]
  const newValue = projectHeads(selfIn, self.value, heads);
  const selfKey = (cache.selfKey ? tf.concat([cache.selfKey, newKey], 2) : newKey) as tf.Tensor4D; // [batch, heads, t+1, headDim]
  const selfValue = (cache.selfValue ? tf.concat([cache.selfValue, newValue], 2) : newValue) as tf.Tensor4D;
  let h = tf.add(x, attend(projectHeads(selfIn, self.query, heads), selfKey, selfValue, self.output));
  const crossIn = layerNorm(h, weights.crossNorm) as tf.Tensor3D;
  const crossQuery = projectHeads(crossIn, weights.crossAttention.query, heads);
  h = tf.add(h, attend(crossQuery, cache.crossKey, cache.crossValue, weights.crossAttention.output));
  const inner = tf.relu(applyDense(layerNorm(h, weights.feedForwardNorm), weights.feedForwardIn));
  return { x: tf.add(h, applyDense(inner, weights.feedForwardOut)) as tf.Tensor3D, selfKey, selfValue };
}

export interface AdditiveAttentionWeights {
  /** hidden -> attention space. */
  decoder: Dense;
  /** attention space -> one score per region ([attentionDim, 1]). */
  score: Dense;
  /** hidden -> gate beta: [hidden, featureDim] (one gate per channel) or [hidden, 1] (the paper's scalar). */
  gate: Dense;
}

/** The attention's two products of the hidden state, when the caller computed them (fused with others). */
export interface HiddenProducts {
  decoder: tf.Tensor2D;
  gate: tf.Tensor2D;
}

/**
 * Soft additive attention with the gating scalar.
 * gridProjected: [batch, regions, attentionDim] (encoder side, computed once per image);
 * grid: [batch, regions, featureDim]; hidden: [batch, hiddenDim].
 * Returns the gated context [batch, featureDim] and the weights alpha [batch, regions].
 */
export function additiveAttention(
  gridProjected: tf.Tensor3D,
  grid: tf.Tensor3D,
  hidden: tf.Tensor2D,
  weights: AdditiveAttentionWeights,
  products?: HiddenProducts,
): { context: tf.Tensor2D; alpha: tf.Tensor2D } {
  const [batch, regions, attentionDim] = gridProjected.shape;
  const fromHidden = (products?.decoder ?? applyDense(hidden, weights.decoder)).reshape([
    batch,
    1,
    attentionDim,
  ]); // [batch, 1, att]
  const energy = tanh(tf.add(gridProjected, fromHidden)); // [batch, regions, att]
  const scores = applyDense(energy, weights.score).reshape([batch, regions]); // [batch, regions]
  const alpha = tf.softmax(scores, -1) as tf.Tensor2D; // [batch, regions]
  const weighted = tf.matMul(alpha.reshape([batch, 1, regions]) as tf.Tensor3D, grid); // [batch, 1, feature]
  const context = weighted.reshape([batch, grid.shape[2]]); // [batch, feature]
  const beta = tf.sigmoid(products?.gate ?? applyDense(hidden, weights.gate)); // [batch, feature] or [batch, 1] (broadcast)
  return { context: tf.mul(context, beta) as tf.Tensor2D, alpha };
}

/**
 * LSTM cell, gates in the order input, forget, candidate, output.
 * inputGates: [batch, 4*hidden], the input's contribution (x·W + b), computed by the caller so a
 * teacher-forced pass can project every time step in one product; recurrent: [hidden, 4*hidden].
 */
export function lstmCell(
  inputGates: tf.Tensor2D,
  h: tf.Tensor2D,
  c: tf.Tensor2D,
  /** The recurrent kernel [hidden, 4*hidden], or a function giving h·kernel (e.g. a stepProjection). */
  recurrent: tf.Tensor2D | Projection,
): { h: tf.Tensor2D; c: tf.Tensor2D } {
  const fromHidden = typeof recurrent === "function" ? recurrent(h) : tf.matMul(h, recurrent);
  const gates = tf.add(inputGates, fromHidden); // [batch, 4*hidden]
  const [i, f, g, o] = tf.split(gates, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const cNext = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tanh(g))) as tf.Tensor2D;
  const hNext = tf.mul(tf.sigmoid(o), tanh(cNext)) as tf.Tensor2D;
  return { h: hNext, c: cNext };
}

export interface BatchNormWeights extends LayerNormWeights {
  movingMean: tf.Variable;
  movingVariance: tf.Variable;
}

/**
 * Batch norm over every axis but the last. In training, batch statistics are used and the running
 * averages are updated (outside the gradient); at inference the running averages are used.
 */
export function batchNorm(
  x: tf.Tensor,
  weights: BatchNormWeights,
  training: boolean,
  momentum = 0.99,
  epsilon = 1e-3,
): tf.Tensor {
  const axes = [...Array(x.shape.length - 1).keys()];
  let mean: tf.Tensor = weights.movingMean;
  let variance: tf.Tensor = weights.movingVariance;
  if (training) {
    const moments = tf.moments(x, axes);
    mean = moments.mean;
    variance = moments.variance;
    // Assignments are not differentiated through, so the running averages stay out of the gradient.
    const update = (target: tf.Variable, value: tf.Tensor) =>
      tf.tidy(() => target.assign(tf.add(tf.mul(target, momentum), tf.mul(value, 1 - momentum))));
    update(weights.movingMean, mean);
    update(weights.movingVariance, variance);
  }
  return tf.add(
    tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon))), weights.gamma),
    weights.beta,
  );
}

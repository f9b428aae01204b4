import * as tf from "@tensorflow/tfjs";
import { PAD_ID } from "../data/vocabulary.js";

/**
 * logProbs[b, t, targets[b, t]] as [batch, T]: a gather from the flattened log-probabilities, whose
 * gradient writes only the picked entries (an UnsortedSegmentSum; kernel-fixes.ts gives wasm one). A
 * one-hot product over the vocabulary took seven passes over [batch, T, vocab] (one-hot, cast, product,
 * sum, and the sum's gradient multiplying by a ones tensor built in JS), ~15 ms a SAT-512 step.
 */
function pickTargets(logProbs: tf.Tensor3D, targets: tf.Tensor2D): tf.Tensor2D {
  const [batch, steps, vocab] = logProbs.shape;
  const rowStarts = tf.range(0, batch * steps * vocab, vocab, "int32"); // [batch * T]
  const indices = tf.add(rowStarts, targets.reshape([batch * steps]).toInt());
  return tf.gather(logProbs.reshape([batch * steps * vocab]), indices).reshape([batch, steps]);
}

/**
 * Mean cross-entropy over the non-pad target tokens, with optional label smoothing ε: the target
 * distribution is (1 - ε)·one-hot + ε/vocab, so a token's loss is -(1 - ε)·log p(target) - ε·mean(log p).
 * logits: [batch, T, vocab]; targets: [batch, T] int32 (PAD_ID where there is no target).
 */
export function maskedCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, labelSmoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits); // [batch, T, vocab]
    let perToken = pickTargets(logProbs, targets).neg(); // [batch, T]
    if (labelSmoothing > 0)
      perToken = perToken.mul(1 - labelSmoothing).sub(logProbs.mean(-1).mul(labelSmoothing));
    const mask = targets.notEqual(PAD_ID).toFloat(); // [batch, T]
    const count = mask.sum().maximum(1);
    return perToken.mul(mask).sum().div(count) as tf.Scalar;
  });
}

/**
 * Policy-gradient loss of self-critical training: -sum_i w_i * log p(caption_i), divided by the number
 * of target tokens so shards of different sizes average like the cross-entropy does.
 * logits: [batch, T, vocab]; targets: [batch, T]; weights: [batch] (the advantages).
 */
export function weightedSequenceLoss(
  logits: tf.Tensor3D,
  targets: tf.Tensor2D,
  weights: tf.Tensor1D,
): tf.Scalar {
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits); // [batch, T, vocab]
    const picked = pickTargets(logProbs, targets); // [batch, T]
    const mask = targets.notEqual(PAD_ID).toFloat(); // [batch, T]
    const perCaption = picked.mul(mask).sum(-1); // [batch]
    return perCaption.mul(weights).sum().neg().div(mask.sum().maximum(1)) as tf.Scalar;
  });
}

/** Cross-entropy without smoothing, summed (not averaged) with the token count, for exact val loss. */
export function sumCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D): { sum: number; tokens: number } {
  const [sum, tokens] = tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits); // [batch, T, vocab]
    const perToken = pickTargets(logProbs, targets).neg(); // [batch, T]
    const mask = targets.notEqual(PAD_ID).toFloat();
    return [perToken.mul(mask).sum(), mask.sum()];
  });
  const result = { sum: sum.dataSync()[0] as number, tokens: tokens.dataSync()[0] as number };
  sum.dispose();
  tokens.dispose();
  return result;
}

import * as tf from "@tensorflow/tfjs";
import { PAD_ID } from "../data/vocabulary.js";

/**
 * Mean cross-entropy over the non-pad target tokens, with optional label smoothing.
 * logits: [batch, T, vocab]; targets: [batch, T] int32 (PAD_ID where there is no target).
 * Written with a one-hot product rather than gather: its gradient needs no UnsortedSegmentSum, which the
 * wasm backend lacks, and it folds label smoothing into the same product.
 */
export function maskedCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, labelSmoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const vocab = logits.shape[2];
    const logProbs = tf.logSoftmax(logits); // [batch, T, vocab]
    let target = tf.oneHot(targets, vocab).toFloat(); // [batch, T, vocab]
    if (labelSmoothing > 0) target = target.mul(1 - labelSmoothing).add(labelSmoothing / vocab);
    const perToken = target.mul(logProbs).sum(-1).neg(); // [batch, T]
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
    const picked = tf.oneHot(targets, logits.shape[2]).toFloat().mul(logProbs).sum(-1); // [batch, T]
    const mask = targets.notEqual(PAD_ID).toFloat(); // [batch, T]
    const perCaption = picked.mul(mask).sum(-1); // [batch]
    return perCaption.mul(weights).sum().neg().div(mask.sum().maximum(1)) as tf.Scalar;
  });
}

/** Cross-entropy without smoothing, summed (not averaged) with the token count, for exact val loss. */
export function sumCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D): { sum: number; tokens: number } {
  const [sum, tokens] = tf.tidy(() => {
    const vocab = logits.shape[2];
    const logProbs = tf.logSoftmax(logits); // [batch, T, vocab]
    const perToken = tf.oneHot(targets, vocab).toFloat().mul(logProbs).sum(-1).neg(); // [batch, T]
    const mask = targets.notEqual(PAD_ID).toFloat();
    return [perToken.mul(mask).sum(), mask.sum()];
  });
  const result = { sum: sum.dataSync()[0] as number, tokens: tokens.dataSync()[0] as number };
  sum.dispose();
  tokens.dispose();
  return result;
}

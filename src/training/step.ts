import * as tf from "@tensorflow/tfjs";
import type { CaptionDecoder } from "../decoders/types.js";
import { type CaptionFeatures, disposeCaptionFeatures, type TokenBatch } from "./batches.js";
import { maskedCrossEntropy, weightedSequenceLoss } from "./loss.js";

export interface StepLossOptions {
  labelSmoothing: number;
  auxLossWeight: number;
}

export interface Gradients {
  /** Mean loss per target token of the batch (cross-entropy + weighted aux loss). */
  loss: number;
  /** Gradients keyed by the decoder's stable variable names. */
  grads: Map<string, tf.Tensor>;
  tokens: number;
}

/**
 * Teacher-forced forward + backward on one batch. Consumes (disposes) features and batch. With
 * `captionWeights` (self-critical training) the loss is the advantage-weighted negative log-likelihood
 * of the given (sampled) captions instead of the cross-entropy, without the auxiliary loss or dropout.
 */
export function computeGradients(
  decoder: CaptionDecoder,
  features: CaptionFeatures,
  batch: TokenBatch,
  options: StepLossOptions,
  captionWeights?: readonly number[],
): Gradients {
  const stableName = new Map<string, string>();
  const list: tf.Variable[] = [];
  for (const [name, variable] of decoder.variables) {
    stableName.set(variable.name, name);
    list.push(variable);
  }
  const weights = captionWeights ? tf.tensor1d([...captionWeights]) : undefined;
  const { value, grads } = tf.variableGrads(() => {
    // Self-critical steps run without dropout: their captions were sampled without it, and the
    // policy gradient must be taken for the policy that drew them (with dropout on, SCST lowered val
    // CIDEr-D in every run; docs/results/training.md).
    const { logits, auxLoss } = decoder.forward(features.inputs, batch.inputs, !weights, features.imageRows);
    if (weights) return weightedSequenceLoss(logits, batch.targets, weights);
    let loss = maskedCrossEntropy(logits, batch.targets, options.labelSmoothing);
    if (auxLoss && options.auxLossWeight > 0) loss = loss.add(auxLoss.mul(options.auxLossWeight));
    return loss;
  }, list);
  const loss = value.dataSync()[0] as number;
  value.dispose();
  weights?.dispose();
  disposeCaptionFeatures(features);
  batch.inputs.dispose();
  batch.targets.dispose();
  const named = new Map<string, tf.Tensor>();
  for (const [tfName, grad] of Object.entries(grads)) named.set(stableName.get(tfName) ?? tfName, grad);
  return { loss, grads: named, tokens: batch.tokenCount };
}

export function disposeGradients(grads: Map<string, tf.Tensor>): void {
  for (const grad of grads.values()) grad.dispose();
}

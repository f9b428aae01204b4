import { tf } from "../../tfjs/backend.js";

/**
 * a x b whose gradient transposes explicitly before multiplying. tfjs's own matMul gradient multiplies
 * with a transposed operand, which the wasm backend runs 10-50x slower than a plain matMul
 * (DESIGN.md); an explicit transpose is cheap at these sizes.
 */
const matMulFixedGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy as tf.Tensor2D)];
    },
  };
});

export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMulFixedGrad(a, b) as tf.Tensor2D;
}

/** Rows scaled to unit length; eps keeps an all-zero row (an unknown-words text) finite. */
export function l2rows(x: tf.Tensor2D): tf.Tensor2D {
  const norm = tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12));
  return tf.div(x, norm) as tf.Tensor2D;
}

/**
 * Symmetric InfoNCE (CLIP): row i of both sides is a matching pair, every other row in the batch is a
 * negative. logits: [batch, batch] image x text similarities, already scaled by the temperature.
 */
export function symmetricInfoNce(logits: tf.Tensor2D): tf.Scalar {
  const n = logits.shape[0];
  const eye = tf.eye(n);
  // Diagonal picked with a mask instead of a gather: gather has no gradient kernel on wasm.
  const imageToText = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits, 1), eye), 1)));
  // logSoftmax only runs over the last axis in tfjs: the text side softmaxes the transposed matrix.
  const textToImage = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(tf.transpose(logits)), eye), 1)));
  return tf.div(tf.add(imageToText, textToImage), 2) as tf.Scalar;
}

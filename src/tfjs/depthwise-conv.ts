import * as tf from "@tensorflow/tfjs";

/**
 * Depthwise convolution (stride 1, "same" padding, odd square kernel, channel multiplier 1) that can be
 * trained on the wasm backend. tfjs 4.22 wasm has the forward kernel but neither backprop kernel, so
 * `tf.grad` through `tf.depthwiseConv2d` throws there. Both gradients are rewritten as forward depthwise
 * convolutions, which wasm runs natively:
 * - dx is dy convolved with the kernel rotated by 180 degrees (same padding keeps the size);
 * - dFilter[i, j, c] = sum over b, h, w of xPadded[b, h + i, w + j, c] * dy[b, h, w, c]: the batch is
 *   moved into the channels, so it is one "valid" depthwise convolution of xPadded (one image of
 *   batch * channels) with dy as the filter, summed over the batch afterwards.
 * x: [batch, h, w, c]; filter: [k, k, c, 1].
 */
export function trainableDepthwiseConv2d(x: tf.Tensor4D, filter: tf.Tensor4D): tf.Tensor4D {
  const [k, kw, channels, multiplier] = filter.shape;
  if (k !== kw || k % 2 !== 1 || multiplier !== 1 || x.shape[3] !== channels) {
    throw new Error(
      `trainableDepthwiseConv2d: needs an odd square [k, k, ${x.shape[3]}, 1] filter, got [${filter.shape}]`,
    );
  }
  const op = tf.customGrad((input, kernel, save) => {
    const xs = input as tf.Tensor4D;
    const f = kernel as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xs, f]);
    return {
      value: tf.depthwiseConv2d(xs, f, 1, "same"),
      gradFunc: (dy, saved) => {
        const [xSaved, fSaved] = saved as [tf.Tensor4D, tf.Tensor4D];
        const grad = dy as tf.Tensor4D;
        const [batch, h, w, c] = xSaved.shape;
        const pad = (k - 1) / 2;
        const dx = tf.depthwiseConv2d(grad, tf.reverse(fSaved, [0, 1]), 1, "same");
        const xMoved = tf
          .pad(xSaved, [
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0],
          ])
          .transpose([1, 2, 0, 3])
          .reshape([1, h + 2 * pad, w + 2 * pad, batch * c]) as tf.Tensor4D;
        const dyAsFilter = grad.transpose([1, 2, 0, 3]).reshape([h, w, batch * c, 1]) as tf.Tensor4D;
        const dFilter = tf
          .depthwiseConv2d(xMoved, dyAsFilter, 1, "valid")
          .reshape([k, k, batch, c])
          .sum(2)
          .reshape([k, k, c, 1]);
        return [dx, dFilter];
      },
    };
  });
  return op(x, filter) as tf.Tensor4D;
}

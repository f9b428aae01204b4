import * as tf from "@tensorflow/tfjs";

/** x·W (+ b) for one step of a recurrence. */
export type Projection = (x: tf.Tensor2D) => tf.Tensor2D;

/** The plain product: what a decoding step uses. */
export function plainProjection(kernel: tf.Tensor2D, bias?: tf.Tensor1D): Projection {
  return (x) => {
    const y = tf.matMul(x, kernel);
    return (bias ? tf.add(y, bias) : y) as tf.Tensor2D;
  };
}

/**
 * x_t·W (+ b) at every step of one teacher-forced recurrence, with the weight's gradient taken once
 * over all steps. Left to autograd, each step's weight gradient is its own product contracting only
 * `batch` rows (x_tᵀ·dy_t: 32 rows into a [1792, 2048] result for Show-Attend-Tell's context weight),
 * whose output copy costs more than its arithmetic, and tfjs then adds the T results one by one
 * (docs/RESULTS.md, issue 21: 16 such products plus 15 whole-weight additions per weight per step).
 * Here every step but the first only keeps x_t and dy_t in the backward pass; the first step's node,
 * which the tape visits last, returns Xᵀ·DY and the summed bias gradient over all steps, one product
 * contracting T x batch rows. The value and the gradients are the same as autograd's up to float
 * summation order (test: step-projection.test.ts).
 *
 * One instance serves one forward pass: make a new one per pass. Made while no gradient is recorded, it
 * is the plain product. A pass recorded on the tape but never differentiated leaks the kept kernel.
 */
export function stepProjection(kernel: tf.Tensor2D, bias?: tf.Tensor1D): Projection {
  const product = plainProjection(kernel, bias);
  // No gradient is being recorded (a validation pass, a decoding step): nothing to defer.
  if (!tf.engine().isTapeOn()) return product;
  // The kernel may be an intermediate of the forward pass's tidy (e.g. kernels concatenated side by
  // side), gone before the backward pass: keep it until the first step's gradient, the last one, is taken.
  const backwardKernel = tf.keep(kernel.clone());
  const keptInputs: tf.Tensor[] = [];
  const keptUpstream: tf.Tensor[] = [];
  let steps = 0;
  const inputGradient = (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, backwardKernel, false, true);

  // tfjs passes the inputs, then the function that saves tensors for the backward pass.
  const op = (gradients: (x: tf.Tensor, dy: tf.Tensor) => tf.Tensor[]) =>
    tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor2D;
      (args[args.length - 1] as tf.GradSaveFunc)([x]);
      return {
        value: product(x),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => gradients(saved[0] as tf.Tensor, dy),
      };
    });

  // Steps after the first read the weights as constants: the tape holds no weight gradient for them.
  const laterStep = op((x, dy) => {
    keptInputs.push(tf.keep(x.clone()));
    keptUpstream.push(tf.keep(dy.clone()));
    return [inputGradient(dy)];
  });

  // The first step takes the weights as inputs; its gradient function returns theirs for every step.
  const firstStep = op((x, dy) => {
    if (keptUpstream.length !== steps - 1) {
      tf.dispose([...keptInputs, ...keptUpstream, backwardKernel]);
      throw new Error(
        `stepProjection: the backward pass reached ${keptUpstream.length + 1} of ${steps} steps; ` +
          "the first step must be recorded first and visited last",
      );
    }
    const inputs = tf.concat([x, ...keptInputs], 0) as tf.Tensor2D; // [steps * batch, in]
    const upstream = tf.concat([dy, ...keptUpstream], 0) as tf.Tensor2D; // [steps * batch, out]
    tf.dispose([...keptInputs, ...keptUpstream]);
    keptInputs.length = 0;
    keptUpstream.length = 0;
    const kernelGradient = tf.matMul(inputs, upstream, true, false);
    const gradients = [inputGradient(dy), kernelGradient, ...(bias ? [tf.sum(upstream, 0)] : [])];
    backwardKernel.dispose();
    return gradients;
  });

  return (x) => {
    steps++;
    if (steps > 1) return laterStep(x) as tf.Tensor2D;
    return (bias ? firstStep(x, kernel, bias) : firstStep(x, kernel)) as tf.Tensor2D;
  };
}

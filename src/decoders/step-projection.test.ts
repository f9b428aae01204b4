import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../tfjs/backend.js";
import { ParamInit } from "./params.js";
import { plainProjection, stepProjection } from "./step-projection.js";

/*
 * stepProjection against autograd on the same recurrence: h_{t+1} = tanh(h_t·W + b + x_t·U). Same value,
 * same gradient for every input and weight (up to float summation order), and nothing left behind.
 */

const BATCH = 3;
const HIDDEN = 5;
const STEPS = 4;

function recurrence(make: typeof plainProjection, withBias: boolean) {
  return (h0: tf.Tensor, xs: tf.Tensor, w: tf.Tensor, u: tf.Tensor, b?: tf.Tensor) => {
    const project = make(w as tf.Tensor2D, withBias ? (b as tf.Tensor1D) : undefined);
    const input = make(u as tf.Tensor2D);
    let h = h0 as tf.Tensor2D;
    const outputs: tf.Tensor2D[] = [];
    for (let t = 0; t < STEPS; t++) {
      const x = tf.slice(xs, [t, 0, 0], [1, BATCH, HIDDEN]).reshape([BATCH, HIDDEN]) as tf.Tensor2D;
      h = tf.tanh(tf.add(project(h), input(x))) as tf.Tensor2D;
      outputs.push(h);
    }
    // a probe weighting every step, so each step's output reaches the loss
    const stacked = tf.stack(outputs);
    return tf.sum(tf.mul(stacked, tf.range(1, STEPS + 1).reshape([STEPS, 1, 1])));
  };
}

describe("stepProjection", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });

  it.each([true, false])("gives autograd's value and gradients (bias %s)", (withBias) => {
    const init = new ParamInit(3);
    const tensor = (shape: number[]) =>
      tf.tensor(
        init.uniform(
          shape.reduce((a, b) => a * b, 1),
          0.8,
        ),
        shape,
      );
    const args = [
      tensor([BATCH, HIDDEN]),
      tensor([STEPS, BATCH, HIDDEN]),
      tensor([HIDDEN, HIDDEN]),
      tensor([HIDDEN, HIDDEN]),
      ...(withBias ? [tensor([HIDDEN])] : []),
    ];
    let before = tf.memory().numTensors;
    const reference = tf.valueAndGrads(recurrence(plainProjection, withBias))(args);
    const referenceLeft = tf.memory().numTensors - before;
    before = tf.memory().numTensors;
    const deferred = tf.valueAndGrads(recurrence(stepProjection, withBias))(args);
    // only the value and its gradients remain: nothing kept for the backward pass leaks
    expect(tf.memory().numTensors - before).toBe(referenceLeft);
    expect(deferred.value.dataSync()[0]).toBeCloseTo(reference.value.dataSync()[0] as number, 5);
    deferred.grads.forEach((grad, i) => {
      const want = reference.grads[i] as tf.Tensor;
      expect(grad.shape).toEqual(want.shape);
      const [diff, scale] = tf.tidy(() => [
        tf.max(tf.abs(tf.sub(grad, want))).dataSync()[0] as number,
        tf.max(tf.abs(want)).dataSync()[0] as number,
      ]);
      expect(scale).toBeGreaterThan(0.1);
      expect(diff, `input ${i}`).toBeLessThan(1e-5 * Math.max(1, scale));
    });
    tf.dispose([reference.value, ...reference.grads, deferred.value, ...deferred.grads, ...args]);
  });

  it("keeps nothing when no gradient is taken", () => {
    const w = tf.randomNormal([HIDDEN, HIDDEN]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const project = stepProjection(w);
      let h = tf.ones([BATCH, HIDDEN]) as tf.Tensor2D;
      for (let t = 0; t < STEPS; t++) h = tf.tanh(project(h)) as tf.Tensor2D;
      return h.dataSync();
    });
    expect(tf.memory().numTensors).toBe(before);
    w.dispose();
  });
});

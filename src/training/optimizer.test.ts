import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../tfjs/backend.js";
import { Adam, clipByGlobalNorm, learningRateAt } from "./optimizer.js";

describe("Adam", () => {
  beforeAll(async () => {
    await initBackend("wasm");
  });

  it("matches tf.train.adam step for step", () => {
    const ours = tf.variable(tf.tensor1d([0.5, -1, 2]));
    const theirs = tf.variable(tf.tensor1d([0.5, -1, 2]));
    const adam = new Adam(new Map([["w", ours]]), { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    const reference = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
    const f = (w: tf.Tensor) => w.square().sum().add(w.sum().mul(3)) as tf.Scalar;
    for (let i = 0; i < 5; i++) {
      const grad = tf.grad(f)(ours);
      adam.apply(new Map([["w", grad]]), 0.01);
      grad.dispose();
      reference.minimize(() => f(theirs), false, [theirs]);
    }
    const a = ours.dataSync();
    const b = theirs.dataSync();
    for (let i = 0; i < 3; i++) expect(a[i]).toBeCloseTo(b[i] as number, 5);
    const state = adam.getState();
    expect(state.step).toBe(5);
    const restored = new Adam(new Map([["w", tf.variable(tf.zeros([3]))]]), {
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
    });
    restored.setState(state);
    expect(Array.from(restored.getState().m.w!)).toEqual(Array.from(state.m.w!));
  });

  it("clips by global norm", () => {
    const grads = new Map<string, tf.Tensor>([
      ["a", tf.tensor1d([3, 0])],
      ["b", tf.tensor1d([0, 4])],
    ]);
    expect(clipByGlobalNorm(grads, 1)).toBeCloseTo(5, 5);
    expect(grads.get("a")!.dataSync()[0]).toBeCloseTo(0.6, 4);
    expect(grads.get("b")!.dataSync()[1]).toBeCloseTo(0.8, 4);
  });

  it("warms up linearly and decays by cosine to the floor", () => {
    const options = {
      learningRate: 1,
      warmupSteps: 10,
      decay: "cosine" as const,
      minLearningRateRatio: 0.1,
      totalSteps: 110,
    };
    expect(learningRateAt(0, options)).toBeCloseTo(0.1);
    expect(learningRateAt(9, options)).toBeCloseTo(1);
    expect(learningRateAt(60, options)).toBeCloseTo(0.55);
    expect(learningRateAt(110, options)).toBeCloseTo(0.1);
  });
});

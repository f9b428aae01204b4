import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "./backend.js";
import { trainableDepthwiseConv2d } from "./depthwise-conv.js";
import { applyWasmKernelFixes } from "./kernel-fixes.js";
import { maxAbsDifference, seededArray } from "./test-utils/random.js";

/** Value and both gradients of sum(conv(x, f) * weights), as plain arrays. */
function valueAndGrads(
  backend: "wasm" | "cpu",
  conv: (x: tf.Tensor4D, f: tf.Tensor4D) => tf.Tensor4D,
  xShape: [number, number, number, number],
  k: number,
): Float32Array[] {
  tf.setBackend(backend);
  const channels = xShape[3];
  const size = xShape.reduce((a, b) => a * b, 1);
  const results = tf.tidy(() => {
    const x = tf.tensor4d(seededArray(size, 3), xShape);
    const f = tf.tensor4d(seededArray(k * k * channels, 5), [k, k, channels, 1]);
    const weights = tf.tensor4d(seededArray(size, 7), xShape);
    const loss = (a: tf.Tensor, b: tf.Tensor) =>
      conv(a as tf.Tensor4D, b as tf.Tensor4D)
        .mul(weights)
        .sum();
    const { value, grads } = tf.valueAndGrads(loss)([x, f]);
    return [conv(x, f), value, ...grads];
  });
  return results.map((t) => {
    const values = Float32Array.from(t.dataSync() as Float32Array);
    t.dispose();
    return values;
  });
}

describe("trainableDepthwiseConv2d", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
  });
  afterAll(() => {
    tf.setBackend("wasm");
  });

  it("matches the cpu backend's native depthwise convolution and its gradients", () => {
    const native = (x: tf.Tensor4D, f: tf.Tensor4D) => tf.depthwiseConv2d(x, f, 1, "same");
    for (const [shape, k] of [
      [[2, 6, 5, 3], 5],
      [[3, 4, 4, 7], 3],
    ] as Array<[[number, number, number, number], number]>) {
      const expected = valueAndGrads("cpu", native, shape, k);
      const actual = valueAndGrads("wasm", trainableDepthwiseConv2d, shape, k);
      expect(actual.length).toBe(4);
      actual.forEach((values, index) => {
        const reference = expected[index] as Float32Array;
        expect(values.length).toBe(reference.length);
        expect(maxAbsDifference(values, reference).worst).toBeLessThan(1e-4);
      });
    }
  });

  it("refuses filters it does not implement", () => {
    tf.setBackend("wasm");
    const x = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
    expect(() => trainableDepthwiseConv2d(x, tf.zeros([2, 2, 2, 1]) as tf.Tensor4D)).toThrow(/odd square/);
    expect(() => trainableDepthwiseConv2d(x, tf.zeros([3, 3, 2, 2]) as tf.Tensor4D)).toThrow(/odd square/);
    x.dispose();
  });
});

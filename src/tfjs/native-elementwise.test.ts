import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { tanh } from "../decoders/layers.js";
import { initBackend, tf } from "./backend.js";
import { applyWasmKernelFixes, clearTransposeCache } from "./kernel-fixes.js";
import { nativeElementwiseCounts, nativeTanhFor } from "./native-elementwise.js";
import { enableNativeMatMul } from "./native-matmul.js";
import { runOne, worstRelative } from "./test-utils/backends.js";
import { seededArray } from "./test-utils/random.js";

describe("elementwise kernels and transposes on onnxruntime (kernel-fixes (h))", () => {
  beforeAll(async () => {
    await initBackend("cpu");
    await initBackend("wasm");
    await enableNativeMatMul();
    applyWasmKernelFixes();
  });
  beforeEach(() => {
    nativeElementwiseCounts.unary = 0;
    nativeElementwiseCounts.transpose = 0;
  });
  afterAll(() => tf.setBackend("wasm"));

  it("computes large Exp and Tanh natively, matching cpu within float rounding", () => {
    const x = seededArray(300 * 70, 3).map((v) => 4 * v); // 21,000 values: over Exp's 16K threshold
    for (const op of ["exp", "tanh"] as const) {
      const f = () => tf[op](tf.tensor2d(x, [300, 70]));
      const cpu = runOne("cpu", f);
      const wasm = runOne("wasm", f);
      expect(worstRelative(wasm, cpu)).toBeLessThan(2e-6);
    }
    expect(nativeElementwiseCounts.unary).toBe(2);
  });

  it("keeps small ones, Sigmoid and int32 on wasm", () => {
    runOne("wasm", () => tf.exp(tf.tensor1d(seededArray(1000, 5))));
    runOne("wasm", () => tf.sigmoid(tf.tensor1d(seededArray(40_000, 6))));
    expect(nativeElementwiseCounts.unary).toBe(0);
  });

  it("gives exact gradients through the native kernels (log-softmax, tanh)", () => {
    const x = seededArray(64 * 512, 7).map((v) => 3 * v);
    const loss = (t: tf.Tensor) => tf.sum(tf.mul(tf.logSoftmax(t), tf.tanh(t)));
    const f = () => tf.grad(loss)(tf.tensor2d(x, [64, 512]));
    const cpu = runOne("cpu", f);
    const wasm = runOne("wasm", f);
    expect(worstRelative(wasm, cpu)).toBeLessThan(1e-4);
    expect(nativeElementwiseCounts.unary).toBeGreaterThanOrEqual(3);
  });

  it("makes the cached transposed copy of a weight on onnxruntime", () => {
    clearTransposeCache();
    const w = seededArray(1024 * 1024, 8); // 2^20 values: weight-first products use its transpose
    const x = seededArray(8 * 1024, 9);
    const f = () => {
      const weight = tf.tensor2d(w, [1024, 1024]);
      const rows = tf.tensor2d(x, [8, 1024]);
      // the second use of the same weight makes (and the third reuses) its transposed copy
      return tf.addN([0, 1, 2].map(() => tf.matMul(rows, weight)));
    };
    const cpu = runOne("cpu", f);
    const wasm = runOne("wasm", f);
    expect(worstRelative(wasm, cpu)).toBeLessThan(1e-4); // float sums of 1,024 products, in another order
    expect(nativeElementwiseCounts.transpose).toBe(1);
  });

  it("gives the decoders' tanh the native kernel where it runs, the sigmoid form elsewhere", () => {
    const x = seededArray(32 * 512, 10).map((v) => 5 * v);
    const f = () => tanh(tf.tensor2d(x, [32, 512]));
    tf.setBackend("wasm");
    expect(nativeTanhFor(tf.zeros([32, 512]))).toBe(true);
    expect(nativeTanhFor(tf.zeros([4, 512]))).toBe(false); // small: the sigmoid form
    const wasm = runOne("wasm", f);
    expect(nativeElementwiseCounts.unary).toBe(1);
    tf.setBackend("cpu");
    expect(nativeTanhFor(tf.zeros([32, 512]))).toBe(false);
    const cpu = runOne("cpu", f); // 2·sigmoid(2x) - 1
    expect(worstRelative(wasm, cpu)).toBeLessThan(1e-6);
  });
});

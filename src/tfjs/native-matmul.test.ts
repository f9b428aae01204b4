import { createRequire } from "node:module";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { initBackend, tf } from "./backend.js";
import { applyWasmKernelFixes } from "./kernel-fixes.js";
import {
  checkBinding,
  configureNativeMatMul,
  DEFAULT_MIN_INNER,
  DEFAULT_MIN_MACS,
  enableNativeMatMul,
  nativeMatMulCounts,
  nativeMatMulStatus,
} from "./native-matmul.js";
import { runOn, worstRelative } from "./test-utils/backends.js";
import { seededArray } from "./test-utils/random.js";

describe("native matrix products (onnxruntime-node)", () => {
  beforeAll(async () => {
    await initBackend("cpu");
    await initBackend("wasm");
    await enableNativeMatMul(); // what initTfjs("wasm", { nativeMatMul: true }) does for training
    applyWasmKernelFixes();
  });
  beforeEach(() => {
    configureNativeMatMul({ minMacs: 0, minInner: 0 }); // every product goes native, however small
    nativeMatMulCounts.native = 0;
    nativeMatMulCounts.wasm = 0;
    nativeMatMulCounts.weightFirst = 0;
  });
  afterAll(() => {
    configureNativeMatMul({ minMacs: DEFAULT_MIN_MACS, minInner: DEFAULT_MIN_INNER });
    tf.setBackend("wasm");
  });

  it("is enabled for training and the pinned binding has the shape we call", async () => {
    expect(nativeMatMulStatus().enabled).toBe(true);
    expect(await enableNativeMatMul()).toBe(true);
    // The private binding of onnxruntime-node: if this fails after an upgrade, native-matmul.ts must be
    // checked against the new dist/binding.js before the version pin in package.json moves.
    const require = createRequire(import.meta.url);
    const pinned = (require("../../package.json") as { dependencies: Record<string, string> }).dependencies[
      "onnxruntime-node"
    ];
    const installed = (require("onnxruntime-node/package.json") as { version: string }).version;
    expect(pinned).toBe(installed);
    expect(() => checkBinding(require("onnxruntime-node/dist/binding.js"))).not.toThrow();
    expect(() => checkBinding({ binding: {}, initOrt() {} })).toThrow(/changed shape/);
  });

  // [a shape, b shape, transposeA, transposeB]: 2-D, folded batches, equal batches, broadcast batches
  const cases: [number[], number[], boolean, boolean][] = [
    [[7, 19], [19, 5], false, false],
    [[19, 7], [19, 5], true, false],
    [[7, 19], [5, 19], false, true],
    [[19, 7], [5, 19], true, true],
    [[3, 7, 19], [19, 5], false, false], // batch folded into rows
    [[3, 19, 7], [19, 5], true, false],
    [[3, 7, 19], [5, 19], false, true],
    [[2, 3, 7, 19], [2, 3, 19, 5], false, false],
    [[4, 19, 7], [4, 5, 19], true, true],
    [[7, 19], [4, 19, 5], false, false], // a broadcast against b's batch
    [[1, 19, 7], [4, 5, 19], true, true],
    [[4, 7, 19], [1, 1, 19, 5], false, false], // tf's output batch shape is the broadcast [1, 4]
  ];
  for (const [shapeA, shapeB, transposeA, transposeB] of cases) {
    it(`matMul ${shapeA.join("x")}${transposeA ? "ᵀ" : ""} · ${shapeB.join("x")}${transposeB ? "ᵀ" : ""} equals the cpu backend (and its gradients)`, () => {
      const dataA = seededArray(
        shapeA.reduce((p, x) => p * x, 1),
        11,
      );
      const dataB = seededArray(
        shapeB.reduce((p, x) => p * x, 1),
        12,
      );
      const sameBatch = shapeA.slice(0, -2).join() === shapeB.slice(0, -2).join();
      const compute = () => {
        const a = tf.tensor(dataA, shapeA);
        const b = tf.tensor(dataB, shapeB);
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, transposeA, transposeB);
        const y = f(a, b);
        const weights = tf.tensor(seededArray(y.size, 13), y.shape);
        // tfjs 4.22's matMul gradient does not reduce broadcast batch axes (on any backend): forward only
        if (!sameBatch) return [y];
        const grads = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(f(x, z), weights)))([a, b]);
        return [y, ...grads];
      };
      const wasm = runOn("wasm", compute);
      const cpu = runOn("cpu", compute);
      expect(nativeMatMulCounts.native).toBe(sameBatch ? 4 : 1); // y, then y again, dA and dB in tf.grads
      for (const [i, values] of wasm.entries())
        expect(worstRelative(values, cpu[i] as Float32Array)).toBeLessThan(1e-5);
    });
  }

  it("multiplies few rows by a large weight weight-first, as the cpu backend does (both layouts)", () => {
    // 24 rows against [1040, 1100] (over 2^20 values): computed as (w·aᵀ)ᵀ. With the weight stored
    // [k, n] its transposed copy is made on its second use (a weight at every time step), so the same
    // weight is used three times: plain, plain (cached), and stored [n, k] for the backward's shape.
    const [rows, k, n] = [24, 1040, 1100];
    const a = seededArray(rows * k, 21);
    const w = seededArray(k * n, 22);
    const compute = () => {
      const x = tf.tensor2d(a, [rows, k]);
      const weight = tf.tensor2d(w, [k, n]);
      const weightT = tf.transpose(weight);
      return [tf.matMul(x, weight), tf.matMul(x, weight), tf.matMul(x, weightT, false, true)];
    };
    const wasm = runOn("wasm", compute);
    const cpu = runOn("cpu", compute);
    // sums of 1,040 float32 products, in another order than the cpu backend's
    for (const [i, values] of wasm.entries())
      expect(worstRelative(values, cpu[i] as Float32Array), `product ${i}`).toBeLessThan(5e-5);
    expect(nativeMatMulCounts.native).toBe(3);
    expect(nativeMatMulCounts.weightFirst).toBe(2); // the cached transposed copy, then the [n, k] weight
  });

  it("sums a matrix over its first axis, or a batch over its middle one, as ones·x, like the cpu backend", () => {
    const x = seededArray(600 * 530, 31);
    const bias = seededArray(530, 32);
    const compute = () => {
      const m = tf.tensor2d(x, [600, 530]);
      const b = tf.tensor1d(bias);
      const biasGrad = tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.add(m, v))))(b);
      const batch = tf.reshape(m, [6, 100, 530]);
      return [
        tf.sum(m, 0),
        tf.sum(m, -2, true),
        biasGrad,
        tf.sum(m, 1),
        tf.sum(batch, 1),
        tf.sum(batch, 1, true),
      ];
    };
    const wasm = runOn("wasm", compute);
    const cpu = runOn("cpu", compute);
    for (const [i, values] of wasm.entries())
      expect(worstRelative(values, cpu[i] as Float32Array), `sum ${i}`).toBeLessThan(5e-5);
    expect(nativeMatMulCounts.native).toBe(5); // the first-axis sums, the bias gradient's, the batched ones
    tf.setBackend("wasm");
    expect(tf.sum(tf.ones([3, 300, 2]), 1).shape).toEqual([3, 2]);
    expect(tf.sum(tf.ones([3, 300, 2]), 1, true).shape).toEqual([3, 1, 2]);
    tf.setBackend("wasm");
    expect(tf.sum(tf.ones([300, 2]), 0, true).shape).toEqual([1, 2]);
  });

  it("computes fused products (bias, activations) like the cpu backend", () => {
    const a = seededArray(6 * 17, 21);
    const b = seededArray(17 * 4, 22);
    const bias = seededArray(4, 23);
    const alpha = seededArray(4, 24);
    const compute = () =>
      (["linear", "relu", "relu6", "elu", "sigmoid", "leakyrelu", "prelu"] as const).map((activation) =>
        tf.fused.matMul({
          a: tf.tensor2d(a, [6, 17]),
          b: tf.tensor2d(b, [4, 17]),
          transposeB: true,
          bias: tf.tensor1d(bias),
          activation,
          preluActivationWeights: activation === "prelu" ? tf.tensor1d(alpha) : undefined,
          leakyreluAlpha: 0.1,
        }),
      );
    const wasm = runOn("wasm", compute);
    const cpu = runOn("cpu", compute);
    expect(nativeMatMulCounts.native).toBe(7);
    for (const [i, values] of wasm.entries())
      expect(worstRelative(values, cpu[i] as Float32Array)).toBeLessThan(1e-5);
  });

  it("keeps small products, short inner dimensions and other broadcasts on wasm", () => {
    configureNativeMatMul({ minMacs: DEFAULT_MIN_MACS, minInner: DEFAULT_MIN_INNER });
    tf.setBackend("wasm");
    tf.tidy(() => tf.matMul(tf.ones([32, 32]), tf.ones([32, 32])));
    expect(nativeMatMulCounts).toEqual({ native: 0, wasm: 1, weightFirst: 0 });
    configureNativeMatMul({ minMacs: 0 });
    tf.tidy(() => tf.matMul(tf.ones([512, 8]), tf.ones([8, 512]))); // inner dimension 8
    expect(nativeMatMulCounts).toEqual({ native: 0, wasm: 2, weightFirst: 0 });
    const y = tf.tidy(() => tf.matMul(tf.ones([2, 1, 3, 16]), tf.ones([1, 3, 16, 2]))); // batch 2x1 against 1x3
    expect(y.shape).toEqual([2, 3, 3, 2]);
    expect(Array.from(y.dataSync()).every((v) => v === 16)).toBe(true);
    expect(nativeMatMulCounts).toEqual({ native: 0, wasm: 3, weightFirst: 0 });
    y.dispose();
    const broadcast = tf.tidy(() => tf.matMul(tf.ones([4, 7, 16]), tf.ones([1, 1, 16, 5])));
    expect(broadcast.shape).toEqual([1, 4, 7, 5]); // tf's broadcast batch shape, computed natively
    expect(nativeMatMulCounts.native).toBe(1);
    broadcast.dispose();
  });
});

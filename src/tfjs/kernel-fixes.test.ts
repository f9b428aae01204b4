import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "./backend.js";
import { applyWasmKernelFixes } from "./kernel-fixes.js";
import { seededArray } from "./test-utils/random.js";

/** Runs fn on a backend and returns plain arrays, so results from both backends can be compared. */
function runOn(backend: "wasm" | "cpu", fn: () => tf.Tensor[]): Float32Array[] {
  tf.setBackend(backend);
  return tf
    .tidy(() => fn())
    .map((t) => {
      const values = t.dataSync() as Float32Array;
      t.dispose();
      return Float32Array.from(values);
    });
}

function expectClose(actual: Float32Array[], expected: Float32Array[], tolerance = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((values, index) => {
    const reference = expected[index] as Float32Array;
    expect(values.length).toBe(reference.length);
    let worst = 0;
    for (let i = 0; i < values.length; i++) {
      const scale = Math.max(1, Math.abs(reference[i] as number));
      worst = Math.max(worst, Math.abs((values[i] as number) - (reference[i] as number)) / scale);
    }
    expect(worst).toBeLessThan(tolerance);
  });
}

describe("applyWasmKernelFixes", () => {
  beforeAll(async () => {
    await initBackend("cpu");
    await initBackend("wasm");
    applyWasmKernelFixes();
    applyWasmKernelFixes(); // idempotent
  });
  afterAll(() => {
    tf.setBackend("wasm");
  });

  it("gives gather (embedding) gradients on wasm equal to the cpu backend", () => {
    const table = seededArray(50 * 8, 1);
    const upstream = seededArray(4 * 6 * 8, 2);
    const ids = Array.from({ length: 24 }, (_, i) => (i * 7 + 3) % 50);
    ids[5] = ids[0] as number; // repeated ids must accumulate
    const compute = () => {
      const embedding = tf.tensor2d(table, [50, 8]);
      const tokens = tf.tensor2d(ids, [4, 6], "int32");
      const dy = tf.tensor3d(upstream, [4, 6, 8]);
      const f = (e: tf.Tensor) => tf.sum(tf.mul(tf.gather(e, tokens), dy));
      const [value, grad] = [f(embedding), tf.grad(f)(embedding)];
      // gather along axis 1 too: the gradient then transposes around the segment sum
      const g1 = tf.grad((e: tf.Tensor) =>
        tf.sum(tf.square(tf.gather(e, tf.tensor1d([1, 1, 4], "int32"), 1))),
      )(embedding);
      return [value, grad, g1];
    };
    expectClose(runOn("wasm", compute), runOn("cpu", compute));
  });

  it("gather (slice copies) on wasm equals cpu for every axis, batchDims and dtype", () => {
    const x = seededArray(4 * 5 * 6, 7);
    const compute = () => [
      tf.gather(tf.tensor3d(x, [4, 5, 6]), tf.tensor1d([3, 0, 3, 1], "int32")),
      tf.gather(tf.tensor3d(x, [4, 5, 6]), tf.tensor2d([4, 2, 0, 1], [2, 2], "int32"), 1),
      tf.gather(tf.tensor3d(x, [4, 5, 6]), tf.tensor1d([5, 0], "int32"), 2),
      tf.gather(tf.tensor3d(x, [4, 5, 6]), tf.tensor2d([1, 2, 0, 0, 4, 4, 3, 1], [4, 2], "int32"), 1, 1),
      tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], "int32"), tf.tensor1d([2, 2, 0], "int32")).toFloat(),
    ];
    expectClose(runOn("wasm", compute), runOn("cpu", compute));
    tf.setBackend("wasm");
    expect(() => tf.gather(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor1d([2], "int32"))).toThrow(
      /not in \[0, 1\]/,
    );
  });

  it("slice, unstack and split on wasm equal cpu on every axis, shape and dtype (heap views)", () => {
    const x = seededArray(3 * 4 * 5 * 6, 11);
    const x4 = () => tf.tensor4d(x, [3, 4, 5, 6]);
    const compute = () => [
      tf.slice(x4(), [1, 0, 0, 0], [2, 4, 5, 6]), // contiguous: one run
      tf.slice(x4(), [0, 1, 2, 3], [3, 2, 3, 2]), // every axis partial
      tf.slice(x4(), [2, 3, 4, 5], [1, 1, 1, 1]),
      tf.slice(x4(), [0, 0, 1, 0], [3, 4, 2, 6]),
      tf.slice(tf.tensor1d(x.subarray(0, 9)), [4], [3]),
      tf.slice(x4(), [0, 0, 0, 0], [3, 0, 5, 6]), // empty
      ...tf.unstack(x4()),
      ...tf.unstack(x4(), 1),
      ...tf.unstack(x4(), 3),
      ...tf.split(x4(), [1, 3, 2], 3),
      ...tf.split(x4(), 2, 1),
      ...tf.split(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], "int32"), [2, 1], 1).map((t) => t.toFloat()),
      ...tf.unstack(tf.tensor2d([1, 0, 0, 1], [2, 2], "bool"), 1).map((t) => t.toFloat()),
    ];
    const onWasm = runOn("wasm", compute);
    const onCpu = runOn("cpu", compute);
    expectClose(onWasm, onCpu, 1e-9); // copies: exact
    tf.setBackend("wasm");
    const parts = tf.unstack(x4(), 2);
    expect(parts.map((p) => p.shape)).toEqual(Array(5).fill([3, 4, 6]));
    tf.dispose(parts);
  });

  it("reuses transposed copies only for the same data and shape (reshapes share data)", () => {
    const w = seededArray(512 * 512, 8);
    const x = seededArray(4 * 512, 9);
    const y = seededArray(4 * 1024, 10);
    const weights = tf.tensor2d(w, [512, 512]);
    const compute = () => {
      const out: tf.Tensor[] = [];
      for (let i = 0; i < 3; i++) out.push(tf.matMul(tf.tensor2d(x, [4, 512]), weights, false, true));
      const reshaped = weights.reshape([256, 1024]) as tf.Tensor2D; // same buffer, other shape
      for (let i = 0; i < 3; i++) out.push(tf.matMul(tf.tensor2d(y, [4, 1024]), reshaped, false, true));
      const copy = tf.clone(weights); // shares the buffer (Identity fix)
      out.push(tf.matMul(copy, tf.tensor2d(x, [4, 512]), true, true));
      copy.dispose();
      out.push(tf.add(weights, 0));
      return out;
    };
    expectClose(runOn("wasm", compute), runOn("cpu", compute));
    weights.dispose();
  });

  it("unsortedSegmentSum on wasm equals cpu", () => {
    const x = seededArray(10 * 3, 3);
    const compute = () => [
      tf.unsortedSegmentSum(tf.tensor2d(x, [10, 3]), tf.tensor1d([0, 2, 2, 1, 4, 0, 3, 3, 2, 4], "int32"), 6),
    ];
    expectClose(runOn("wasm", compute), runOn("cpu", compute));
  });

  it("transposed matMul values and gradients on wasm equal the cpu backend", () => {
    const aValues = seededArray(3 * 17 * 9, 4);
    const bValues = seededArray(3 * 9 * 11, 5);
    const compute = () => {
      const out: tf.Tensor[] = [];
      for (const [transposeA, transposeB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const a = tf.tensor3d(aValues, transposeA ? [3, 9, 17] : [3, 17, 9]);
        const b = tf.tensor3d(bValues, transposeB ? [3, 11, 9] : [3, 9, 11]);
        const f = (x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(tf.sin(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, transposeA, transposeB)));
        out.push(tf.matMul(a, b, transposeA, transposeB), ...tf.grads(f)([a, b]));
      }
      // 2-D, and the fused op (dense layer) with bias and activation
      const a2 = tf.tensor2d(aValues.slice(0, 17 * 9), [17, 9]);
      const b2 = tf.tensor2d(bValues.slice(0, 11 * 9), [11, 9]);
      const bias = tf.tensor1d(seededArray(11, 6));
      const fused = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        tf.sum(
          tf.fused.matMul({
            a: x as tf.Tensor2D,
            b: y as tf.Tensor2D,
            transposeB: true,
            bias: z,
            activation: "relu",
          }),
        );
      out.push(fused(a2, b2, bias), ...tf.grads(fused)([a2, b2, bias]));
      return out;
    };
    expectClose(runOn("wasm", compute), runOn("cpu", compute));
  });
});

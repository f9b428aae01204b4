import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEncoder } from "./registry.js";
import { syntheticBatch } from "./test-utils/contract.js";
import type { Encoder } from "./types.js";

/** max |a - b| relative to max |b|: the outputs' own scale. */
function relativeDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  expect(scale).toBeGreaterThan(0.1);
  return diff / scale;
}

// The converted graphs must reproduce the tfjs (wasm) features: caches and the shipped model were
// made with tfjs, and either runtime may resume a store.
for (const name of [
  "mobilenet_v2_mid",
  "centernet_224",
  "centernet_448",
  "centernet_448_expand",
  "inception_v3",
]) {
  describe(`${name} on onnxruntime`, () => {
    let onnx: Encoder;
    let tfjs: Encoder;
    beforeAll(async () => {
      onnx = await createEncoder(name, { runtime: "onnx", onnxThreads: 1 });
      tfjs = await createEncoder(name, { runtime: "tfjs" });
    });
    afterAll(() => {
      onnx.dispose();
      tfjs.dispose();
    });

    it("gives the tfjs grid and pooled features within 1e-3 of their scale", async () => {
      expect([onnx.inputSize, onnx.gridShape, onnx.pooledSize, onnx.normalization]).toEqual([
        tfjs.inputSize,
        tfjs.gridShape,
        tfjs.pooledSize,
        tfjs.normalization,
      ]);
      const x = syntheticBatch(onnx, 2);
      const [a, b] = [await onnx.encode(x, 2), await tfjs.encode(x, 2)];
      expect(relativeDiff(a.grid, b.grid)).toBeLessThan(1e-3);
      expect(relativeDiff(a.pooled, b.pooled)).toBeLessThan(1e-3);
    });

    it("splits batches larger than the graph batch without mixing images up", async () => {
      const count = 10; // maxBatch is 8 (4 at 448): later runs start inside the input array
      const x = syntheticBatch(onnx, count);
      const all = await onnx.encode(x, count);
      const per = onnx.inputSize * onnx.inputSize * 3;
      const last = await onnx.encode(x.slice((count - 1) * per), 1);
      const gridPer = onnx.gridShape[0] * onnx.gridShape[1] * onnx.gridShape[2];
      expect(relativeDiff(all.grid.subarray((count - 1) * gridPer), last.grid)).toBeLessThan(1e-5);
      expect(relativeDiff(all.pooled.subarray((count - 1) * onnx.pooledSize), last.pooled)).toBeLessThan(
        1e-5,
      );
    });
  });
}

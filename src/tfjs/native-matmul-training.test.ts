import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../core/rng.js";
import { createDecoder } from "../decoders/factory.js";
import type { DecoderConfig } from "../decoders/types.js";
import { Adam, globalNormScale } from "../training/optimizer.js";
import { computeGradients, disposeGradients } from "../training/step.js";
import { initBackend, tf } from "./backend.js";
import { applyWasmKernelFixes } from "./kernel-fixes.js";
import {
  configureNativeMatMul,
  DEFAULT_MIN_INNER,
  DEFAULT_MIN_MACS,
  disableNativeMatMul,
  enableNativeMatMul,
  nativeMatMulCounts,
} from "./native-matmul.js";

/** Losses of `steps` real training steps (forward, loss, backward, clipping, Adam) on fixed random data. */
function lossCurve(config: DecoderConfig, steps: number): number[] {
  const [regions, featureDim, vocabSize, batch, tokens] = [16, 96, 200, 8, 8];
  const decoder = createDecoder(config, { vocabSize, regions, featureDim, pooledDim: featureDim }, 3);
  const adam = new Adam(decoder.variables, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
  const rng = new Rng(7);
  const grid = Float32Array.from({ length: batch * regions * featureDim }, () => rng.next());
  const pooled = Float32Array.from({ length: batch * featureDim }, () => rng.next());
  const ids = Int32Array.from({ length: batch * tokens }, (_, i) =>
    i % tokens === 0 ? 1 : 4 + rng.int(vocabSize - 4),
  );
  const targets = Int32Array.from({ length: batch * tokens }, () => 4 + rng.int(vocabSize - 4));
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const inputs = {
      grid: tf.tensor3d(grid, [batch, regions, featureDim]),
      pooled: tf.tensor2d(pooled, [batch, featureDim]),
    };
    const captions = {
      inputs: tf.tensor2d(ids, [batch, tokens], "int32"),
      targets: tf.tensor2d(targets, [batch, tokens], "int32"),
      tokenCount: batch * tokens,
    };
    const result = computeGradients(decoder, { inputs }, captions, { labelSmoothing: 0, auxLossWeight: 1 });
    losses.push(result.loss);
    adam.apply(result.grads, 3e-3, globalNormScale(result.grads, 5).scale);
    disposeGradients(result.grads);
  }
  adam.dispose();
  decoder.dispose();
  return losses;
}

const configs: DecoderConfig[] = [
  { kind: "show-attend-tell", embedDim: 48, hiddenDim: 64, attentionDim: 32, dropout: 0.3 },
  {
    kind: "transformer",
    layers: 2,
    modelDim: 64,
    heads: 2,
    feedForwardDim: 128,
    dropout: 0.1,
    maxLength: 10,
  },
];

describe("training through onnxruntime's matrix products", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
  });
  afterAll(async () => {
    await enableNativeMatMul({ minMacs: DEFAULT_MIN_MACS, minInner: DEFAULT_MIN_INNER });
  });

  it.each(configs)("follows the wasm-only loss curve of a $kind decoder", async (config) => {
    disableNativeMatMul();
    const before = lossCurve(config, 8);
    await enableNativeMatMul();
    configureNativeMatMul({ minMacs: 0, minInner: 0 });
    nativeMatMulCounts.native = 0;
    const after = lossCurve(config, 8);
    expect(nativeMatMulCounts.native).toBeGreaterThan(50);
    expect(before[7]).toBeLessThan((before[0] as number) - 0.1); // it really trains
    for (const [step, loss] of after.entries())
      expect(Math.abs(loss - (before[step] as number)), `step ${step}`).toBeLessThan(
        1e-4 * (before[step] as number),
      );
  });
});

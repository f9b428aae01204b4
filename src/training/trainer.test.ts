import { existsSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { shapesDataset, shapesTrainData } from "../../test/fixtures/shapes.js";
import { createDecoder } from "../decoders/factory.js";
import { tinyTransformer } from "../decoders/test-utils/tiny.js";
import { initBackend, tf } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import { assignMatchingWeights, assignWeights, loadCheckpoint } from "./checkpoint.js";
import { mergeTrainConfig } from "./config.js";
import { maskedCrossEntropy } from "./loss.js";
import { type TrainData, trainCrossEntropy } from "./trainer.js";

function shapesData(): TrainData {
  const train = shapesDataset(60, 11, "t");
  const val = shapesDataset(10, 12, "v");
  return shapesTrainData(train, val);
}

const config = mergeTrainConfig({
  decoder: { kind: "transformer", layers: 1, modelDim: 16, heads: 2, feedForwardDim: 32, dropout: 0.2 },
  optim: { batchSize: 16, epochs: 2, learningRate: 3e-3, warmupSteps: 3, bucketBatches: 2 },
  eval: { valImages: 0, patience: 0, valLossCaptions: 10 },
  checkpointEvery: 4,
});

const noDecode = (): string[][] => [];

/** A tiny transformer for the weight-transfer tests. */
const decoderConfig = tinyTransformer(12);

describe("trainCrossEntropy", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
  });

  it("masked cross-entropy ignores pads and matches a hand computation", () => {
    const logits = tf.tensor3d([
      [
        [1, 2, 0.5],
        [0, 0, 0],
      ],
    ]); // [1, 2, 3]
    const targets = tf.tensor2d([[1, 0]], [1, 2], "int32"); // second position is padding
    const expected = -(2 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(0.5)));
    expect(maskedCrossEntropy(logits, targets).dataSync()[0]).toBeCloseTo(expected, 5);
    const smoothed = maskedCrossEntropy(logits, targets, 0.3).dataSync()[0] as number;
    const logZ = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(0.5));
    const logp = [1 - logZ, 2 - logZ, 0.5 - logZ];
    const q = [0.1, 0.8, 0.1];
    expect(smoothed).toBeCloseTo(-q.reduce((s, qi, i) => s + qi * (logp[i] as number), 0), 5);
  });

  it("masked cross-entropy's gradient is the one-hot formula's, with and without smoothing", () => {
    const [batch, steps, vocab] = [3, 4, 7];
    const logits = tf.randomNormal([batch, steps, vocab], 0, 2, "float32", 5) as tf.Tensor3D;
    const targets = tf.tensor2d([3, 0, 6, 1, 2, 2, 0, 0, 5, 4, 1, 0], [batch, steps], "int32");
    for (const smoothing of [0, 0.2]) {
      const oneHotLoss = (x: tf.Tensor3D) => {
        const target = tf
          .oneHot(targets, vocab)
          .toFloat()
          .mul(1 - smoothing)
          .add(smoothing / vocab);
        const perToken = target.mul(tf.logSoftmax(x)).sum(-1).neg();
        const mask = targets.notEqual(0).toFloat();
        return perToken.mul(mask).sum().div(mask.sum()) as tf.Scalar;
      };
      const [loss, grad] = tf.tidy(() => {
        const { value, grad } = tf.valueAndGrad((x: tf.Tensor3D) =>
          maskedCrossEntropy(x, targets, smoothing),
        )(logits);
        return [value.dataSync()[0] as number, grad.dataSync() as Float32Array];
      });
      const [expectedLoss, expectedGrad] = tf.tidy(() => {
        const { value, grad } = tf.valueAndGrad(oneHotLoss)(logits);
        return [value.dataSync()[0] as number, grad.dataSync() as Float32Array];
      });
      expect(loss).toBeCloseTo(expectedLoss, 5);
      for (let i = 0; i < grad.length; i++) expect(grad[i]).toBeCloseTo(expectedGrad[i] as number, 6);
    }
  });

  it("initMatching carries the weights of equal size to a decoder with another feature size", () => {
    const shape = { vocabSize: 20, regions: 4, featureDim: 6, pooledDim: 6 };
    const source = createDecoder(decoderConfig, shape, 1);
    const target = createDecoder(decoderConfig, { ...shape, regions: 9, featureDim: 10, pooledDim: 10 }, 2);
    const weights = new Map([...source.variables].map(([name, v]) => [name, v.dataSync() as Float32Array]));
    const before = new Map([...target.variables].map(([name, v]) => [name, Array.from(v.dataSync())]));
    expect(() => assignWeights(target.variables, weights)).toThrow(/wrong size/);
    const { fresh, widened } = assignMatchingWeights(target.variables, weights);
    expect(widened).toEqual([]);
    expect(fresh.sort()).toEqual([
      "transformer/memory/grid/kernel",
      "transformer/memory/pooled/kernel",
      "transformer/memory/positions",
    ]);
    for (const [name, variable] of target.variables) {
      const expected = fresh.includes(name) ? before.get(name)! : Array.from(weights.get(name)!);
      expect(Array.from(variable.dataSync()), name).toEqual(expected);
    }
    source.dispose();
    target.dispose();
  });

  it("initAppendedFeatures starts a decoder on appended feature channels as exactly the old model", () => {
    const shape = { vocabSize: 20, regions: 4, featureDim: 6, pooledDim: 6 };
    const source = createDecoder(decoderConfig, shape, 1);
    const target = createDecoder(decoderConfig, { ...shape, featureDim: 9, pooledDim: 8 }, 2);
    const weights = new Map([...source.variables].map(([name, v]) => [name, v.dataSync() as Float32Array]));
    const { fresh, widened } = assignMatchingWeights(target.variables, weights, new Map(), {
      appendedInputs: true,
    });
    expect(fresh).toEqual([]);
    expect(widened.sort()).toEqual(["transformer/memory/grid/kernel", "transformer/memory/pooled/kernel"]);
    const logits = tf.tidy(() => {
      const grid = tf.randomNormal([2, 4, 6], 0, 1, "float32", 3) as tf.Tensor3D;
      const pooled = tf.randomNormal([2, 6], 0, 1, "float32", 4) as tf.Tensor2D;
      const tokens = tf.tensor2d([1, 5, 7, 2, 1, 3, 3, 9], [2, 4], "int32");
      // the appended channels carry arbitrary values: zero rows must make them irrelevant
      const wideGrid = tf.concat([grid, tf.randomNormal([2, 4, 3], 0, 1, "float32", 5)], 2) as tf.Tensor3D;
      const widePooled = tf.concat([pooled, tf.randomNormal([2, 2], 0, 1, "float32", 6)], 1) as tf.Tensor2D;
      return [
        source.forward({ grid, pooled }, tokens, false).logits.arraySync(),
        target.forward({ grid: wideGrid, pooled: widePooled }, tokens, false).logits.arraySync(),
      ];
    });
    expect(logits[1]).toEqual(logits[0]);
    source.dispose();
    target.dispose();
  });

  it("learns with groupByImage, reading each image once per batch", async () => {
    const grouped = { ...config, optim: { ...config.optim, epochs: 3, groupByImage: true } };
    const result = await trainCrossEntropy({
      config: grouped,
      data: shapesData(),
      parts: { createDecoder, decode: noDecode },
      outDir: mkdtempSync(path.join(os.tmpdir(), "ck-train-grouped-")),
      log: () => {},
    });
    expect(result.steps).toBe(24); // 120 captions / 16 = 8 batches x 3 epochs
    const losses = result.history.map((record) => record.valLoss);
    expect(losses[2]).toBeLessThan(losses[0]!);
    result.decoder.dispose();
  });

  it("runs timers and signal handlers between optimizer steps (Ctrl-C stops reproduce mid-stage)", async () => {
    let firedAtStep: number | undefined;
    let step = 0;
    setTimeout(() => {
      firedAtStep = step;
    }, 0);
    const result = await trainCrossEntropy({
      config,
      data: shapesData(),
      parts: { createDecoder, decode: noDecode },
      outDir: mkdtempSync(path.join(os.tmpdir(), "ck-train-yield-")),
      log: () => {},
      onStep: (done) => {
        step = done;
      },
    });
    // without a turn of the event loop per step the timer would wait for the end of the run
    expect(firedAtStep).toBeLessThanOrEqual(1);
    result.decoder.dispose();
  });

  it("resumes a killed run to exactly the weights of an uninterrupted one", async () => {
    const data = shapesData();
    const parts = { createDecoder, decode: noDecode };
    const quiet = () => {};
    const straightDir = mkdtempSync(path.join(os.tmpdir(), "ck-train-straight-"));
    const straight = await trainCrossEntropy({ config, data, parts, outDir: straightDir, log: quiet });
    const steps = straight.steps;
    expect(steps).toBe(16); // 120 captions / 16 = 8 batches x 2 epochs

    const killedDir = mkdtempSync(path.join(os.tmpdir(), "ck-train-killed-"));
    await expect(
      trainCrossEntropy({
        config,
        data,
        parts,
        outDir: killedDir,
        log: quiet,
        onStep: (step) => {
          if (step === 10) throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    // checkpointEvery is 4: the stop itself saved step 10, which resumes exactly
    expect(loadCheckpoint(path.join(killedDir, "last.ckpt")).manifest.step).toBe(10);
    const resumed = await trainCrossEntropy({
      config,
      data,
      parts,
      outDir: killedDir,
      log: quiet,
      resume: true,
    });
    expect(resumed.steps).toBe(steps);
    for (const [name, variable] of straight.decoder.variables) {
      const other = resumed.decoder.variables.get(name)!;
      expect(Array.from(other.dataSync()), name).toEqual(Array.from(variable.dataSync()));
    }
    expect(resumed.history.map((r) => r.valLoss)).toEqual(straight.history.map((r) => r.valLoss));
    expect(existsSync(path.join(killedDir, "curve.png"))).toBe(true);
    straight.decoder.dispose();
    resumed.decoder.dispose();
  });
});

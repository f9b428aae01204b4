import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { SHAPES_GRID, shapesDataset, shapesTrainData } from "../../test/fixtures/shapes.js";
import { Rng } from "../core/rng.js";
import { END_ID, PAD_ID, START_ID } from "../data/vocabulary.js";
import { createDecoder } from "../decoders/factory.js";
import { TfjsRuntime } from "../decoders/tfjs-runtime.js";
import type { CaptionDecoder } from "../decoders/types.js";
import { readFeatureBatch } from "../features/batch.js";
import { sampleCaptions } from "../generation/sample.js";
import { initBackend } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import { captionFeatures, tokenBatch } from "./batches.js";
import { mergeTrainConfig } from "./config.js";
import { decodeWords } from "./run.js";
import { advantages, runScst, type ScstOptions } from "./scst.js";
import { computeGradients, disposeGradients } from "./step.js";

describe("self-critical sequence training", () => {
  it("compares each sample with the mean of its image's other samples, or with a given baseline", () => {
    expect(advantages([1, 2, 3, 10, 10, 10], 3)).toEqual([-1.5, 0, 1.5, 0, 0, 0]);
    expect(advantages([1, 2, 5, 5], 2, [1.5, 4])).toEqual([-0.5, 0.5, 1, 1]);
  });

  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
  });

  it("takes self-critical gradients without dropout, cross-entropy ones with it", () => {
    const { data, fresh } = tinySetup(7, 6, 2, {}, { dropout: 0.5 });
    const decoder = fresh(3);
    const ids = data.train.slice(0, 3).map((image) => image.id);
    const captions = [
      [START_ID, 5, 6, END_ID],
      [START_ID, 7, END_ID, PAD_ID],
      [START_ID, 6, 5, END_ID],
    ];
    const gradient = (weights?: number[]) => {
      const result = computeGradients(
        decoder,
        captionFeatures(data.reader, ids),
        tokenBatch(captions),
        { labelSmoothing: 0, auxLossWeight: 0 },
        weights,
      );
      const flat = [...result.grads.values()].flatMap((g) => Array.from(g.dataSync()));
      disposeGradients(result.grads);
      return flat;
    };
    // Each forward pass draws fresh dropout masks, so only a dropout-free pass repeats exactly.
    expect(gradient([1, -0.5, 0.25])).toEqual(gradient([1, -0.5, 0.25]));
    expect(gradient()).not.toEqual(gradient());
    decoder.dispose();
  });

  it("samples captions ending in <end> and runs SCST steps, keeping the better weights", async () => {
    const { config, data, fresh } = tinySetup(31, 40, 10, {
      maxSteps: 3,
      batchSize: 8,
      samplesPerImage: 2,
      maxLength: 10,
    });
    const decoder = fresh(3);
    const batch = readFeatureBatch(data.reader, ["t0", "t1", "t2"]);
    const samples = sampleCaptions(new TfjsRuntime(decoder), batch, 10, new Rng(1));
    expect(samples).toHaveLength(3);
    for (const sample of samples) {
      expect(sample.at(-1)).toBe(END_ID);
      expect(sample.length).toBeLessThanOrEqual(11);
    }
    const outDir = mkdtempSync(path.join(os.tmpdir(), "ck-scst-"));
    const { history } = await runScst({ config, data, decoder, outDir, decode: decodeWords, log: () => {} });
    expect(history[0]?.stage).toBe("scst");
    expect(history[0]?.step).toBe(3);
    expect(readFileSync(path.join(outDir, "log.jsonl"), "utf8")).toContain('"stage":"scst"');
    for (const variable of decoder.variables.values()) {
      expect(Number.isFinite(variable.sum().dataSync()[0])).toBe(true);
    }
    decoder.dispose();
  });

  it("resumes a killed run to the same weights as an uninterrupted one", async () => {
    const { config, data, fresh } = tinySetup(
      41,
      24,
      6,
      { maxSteps: 4, batchSize: 6, samplesPerImage: 3, maxLength: 8 },
      { checkpointEvery: 2, dropout: 0.1 },
    );
    const weightsOf = (decoder: CaptionDecoder) =>
      [...decoder.variables.values()].map((variable) => [...(variable.dataSync() as Float32Array)]);
    const run = async (outDir: string, decoder: CaptionDecoder, extra: Partial<ScstOptions>) =>
      runScst({ config, data, decoder, outDir, decode: decodeWords, log: () => {}, ...extra });

    const straight = fresh(5);
    await run(mkdtempSync(path.join(os.tmpdir(), "ck-scst-a-")), straight, {});
    const outDir = mkdtempSync(path.join(os.tmpdir(), "ck-scst-b-"));
    const killed = fresh(5);
    const kill = (step: number) => {
      if (step === 3) throw new Error("killed");
    };
    await expect(run(outDir, killed, { onStep: kill })).rejects.toThrow("killed");
    killed.dispose();
    const resumed = fresh(5);
    await run(outDir, resumed, { resume: true });
    expect(weightsOf(resumed)).toEqual(weightsOf(straight));
    straight.dispose();
    resumed.dispose();
  });
});

/** Synthetic shapes data, an SCST config and a factory for identical tiny transformer decoders. */
function tinySetup(
  seed: number,
  trainImages: number,
  valImages: number,
  scst: Record<string, number>,
  options: { checkpointEvery?: number; dropout?: number } = {},
) {
  const data = shapesTrainData(
    shapesDataset(trainImages, seed, "t"),
    shapesDataset(valImages, seed + 1, "v"),
  );
  const config = mergeTrainConfig({
    checkpointEvery: options.checkpointEvery ?? 0,
    decoder: {
      kind: "transformer",
      layers: 1,
      modelDim: 16,
      heads: 2,
      feedForwardDim: 32,
      dropout: options.dropout ?? 0,
    },
    eval: { valImages },
    scst: { enabled: true, learningRate: 1e-3, ...scst },
  });
  const fresh = (decoderSeed: number) =>
    createDecoder(
      { ...config.decoder, kind: "transformer", maxLength: 22 } as Parameters<typeof createDecoder>[0],
      { vocabSize: data.vocabulary.size, regions: 4, featureDim: SHAPES_GRID[2], pooledDim: SHAPES_GRID[2] },
      decoderSeed,
    );
  return { data, config, fresh };
}

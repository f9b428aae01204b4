import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SPECIAL_TOKENS, Vocabulary } from "../data/vocabulary.js";
import { createDecoder } from "../decoders/factory.js";
import { extractFeatures } from "../features/extract.js";
import { openFeatureStore } from "../features/reader.js";
import { featureFixture } from "../features/test-utils/fixtures.js";
import { loadModel } from "../model/load.js";
import { initBackend, tf } from "../tfjs/backend.js";
import { maxAbsDifference } from "../tfjs/test-utils/random.js";
import { featureBatch } from "./batches.js";
import { loadCheckpoint, loadInitWeights, saveCheckpoint } from "./checkpoint.js";
import { mergeTrainConfig } from "./config.js";
import { exportCheckpoint } from "./export.js";
import { Adam } from "./optimizer.js";
import { decoderConfigOf } from "./trainer.js";

let root: string;
beforeAll(async () => {
  await initBackend("wasm");
  root = await mkdtemp(path.join(os.tmpdir(), "captionkit-export-"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe("exportCheckpoint", () => {
  it("writes a model folder that predicts what the checkpoint's decoder predicts, with the cache's preprocessing", async () => {
    const fixture = await featureFixture(path.join(root, "data"), 3);
    const { dir: storeDir } = await extractFeatures({
      images: fixture.images,
      encoder: fixture.encoder,
      out: path.join(root, "store"),
      dataset: { source: "synthetic", split: "all" },
      workers: 0,
    });
    const store = openFeatureStore(storeDir);
    const [gridH, gridW, channels] = store.gridShape;
    const shape = { vocabSize: 9, regions: gridH * gridW, featureDim: channels, pooledDim: store.pooledSize };
    const vocabulary = new Vocabulary({
      tokens: [...SPECIAL_TOKENS, "a", "red", "blue", "circle", "square"],
      minCount: 1,
      maxLength: 8,
    });
    const config = mergeTrainConfig({
      seed: 4,
      data: { features: storeDir, maxLength: 8 },
      decoder: { kind: "transformer", layers: 1, modelDim: 16, heads: 2, feedForwardDim: 32 },
    });
    const decoder = createDecoder(decoderConfigOf(config), shape, 9);
    const optimizer = new Adam(decoder.variables, config.optim);
    const checkpoint = path.join(root, "best.ckpt");
    saveCheckpoint(
      checkpoint,
      {
        config,
        vocabulary: vocabulary.toJSON(),
        encoder: store.encoder,
        shape,
        step: 12,
        optimizerStep: 12,
        epoch: 1,
        batchInEpoch: 0,
        rngState: 1,
        epochLossSum: 0,
        epochTokens: 0,
        bestScore: 0,
        bestEpoch: 0,
        epochsWithoutImprovement: 0,
        trainSeconds: 3,
        epochSeconds: 0,
        tokensSeen: 300,
        history: [],
        stage: "xe",
      },
      decoder.variables,
      optimizer.getState(),
    );

    const modelDir = path.join(root, "model");
    await exportCheckpoint(checkpoint, modelDir, { name: "exported" });
    const model = await loadModel(modelDir);
    const json = JSON.parse(await readFile(path.join(modelDir, "model.json"), "utf8"));
    expect(json.name).toBe("exported");
    expect(json.encoder).toBe(store.encoder);
    expect(json.preprocessing).toMatchObject({ size: store.manifest.inputSize, fit: "fill" });
    expect(json.training.steps).toBe(12);
    expect(model.vocabulary.tokens).toEqual(vocabulary.tokens);

    const inputs = featureBatch(store, [fixture.images[0]!.id, fixture.images[2]!.id]);
    const words = tf.tensor2d([[1, 4, 5, 7]], [1, 4], "int32").tile([2, 1]) as tf.Tensor2D;
    const expected = decoder.forward(inputs, words, false).logits.arraySync() as number[][][];
    const actual = model.decoder.forward(inputs, words, false).logits.arraySync() as number[][][];
    // Weights are stored as float16: equal up to its rounding, while another decoder is far off.
    const gap = (values: number[][][]) =>
      Math.max(...values.flat(2).map((value, i) => Math.abs(value - expected.flat(2)[i]!)));
    expect(gap(actual)).toBeLessThan(2e-2);
    const other = createDecoder(decoderConfigOf(config), shape, 10);
    expect(gap(other.forward(inputs, words, false).logits.arraySync() as number[][][])).toBeGreaterThan(0.2);
    other.dispose();

    // the folder can seed a new run (initFrom) with the checkpoint's weights, up to float16 rounding
    const fromFolder = await loadInitWeights(modelDir);
    const fromCheckpoint = await loadInitWeights(checkpoint);
    expect([...fromFolder.keys()].sort()).toEqual([...loadCheckpoint(checkpoint).weights.keys()].sort());
    for (const [name, values] of fromCheckpoint) {
      const restored = fromFolder.get(name) as Float32Array;
      const { worst } = maxAbsDifference(restored, values);
      expect(worst).toBeLessThanOrEqual(Math.max(...values.map(Math.abs)) * 2 ** -10 + 1e-7);
    }
    store.close();
    decoder.dispose();
    model.decoder.dispose();
    optimizer.dispose();
  });
});

import { mkdtemp, rm, unlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SPECIAL_TOKENS } from "../data/vocabulary.js";
import { createDecoder } from "../decoders/factory.js";
import { tinyTransformer } from "../decoders/test-utils/tiny.js";
import { initBackend, tf } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import { saveEnsemble as saveEnsembleModel } from "./ensemble.js";
import type { ModelMeta } from "./format.js";
import { loadModel } from "./load.js";
import { saveModel } from "./single.js";

const vocabulary = { tokens: [...SPECIAL_TOKENS, "a", "dog", "runs", "red"], minCount: 1, maxLength: 8 };
const preprocessing = { size: 28, normalization: { mean: [0, 0, 0], std: [1, 1, 1] }, fit: "fill" } as const;
const meta = (encoder: string, tokens = vocabulary.tokens): ModelMeta => ({
  name: encoder,
  encoder,
  vocabulary: { ...vocabulary, tokens },
  preprocessing: { ...preprocessing, normalization: { mean: [0, 0, 0], std: [1, 1, 1] } },
});
const transformer = tinyTransformer(8);

describe("ensemble folders", () => {
  let root: string;
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
    root = await mkdtemp(path.join(os.tmpdir(), "captionkit-ensemble-"));
    const shape = (featureDim: number) => ({ vocabSize: 8, regions: 4, featureDim, pooledDim: featureDim });
    await saveModel(path.join(root, "a"), createDecoder(transformer, shape(5), 1), meta("enc_a"));
    await saveModel(path.join(root, "b"), createDecoder(transformer, shape(3), 2), meta("enc_b"));
    const otherWords = [...SPECIAL_TOKENS, "a", "cat", "runs", "red"];
    await saveModel(path.join(root, "c"), createDecoder(transformer, shape(3), 3), meta("enc_c", otherWords));
    const fine = { vocabSize: 8, regions: 16, featureDim: 5, pooledDim: 5 };
    await saveModel(path.join(root, "fine"), createDecoder(transformer, fine, 4), meta("enc_fine"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("loads as one model that averages its members over their joined encoders", async () => {
    const dir = path.join(root, "ens");
    await saveEnsembleModel(dir, [path.join(root, "a"), path.join(root, "b")], { name: "both" });
    const ensemble = await loadModel(dir);
    const [a, b] = [await loadModel(path.join(dir, "member-1")), await loadModel(path.join(dir, "member-2"))];
    expect(ensemble.meta.name).toBe("both");
    expect(ensemble.meta.encoder).toBe("enc_a+enc_b");
    expect(ensemble.decoder.shape).toMatchObject({ featureDim: 8, pooledDim: 8, regions: 4 });
    const grid = tf.randomUniform([1, 4, 8], -1, 1, "float32", 7) as tf.Tensor3D;
    const pooled = tf.randomUniform([1, 8], -1, 1, "float32", 8) as tf.Tensor2D;
    const start = tf.tensor1d([1], "int32");
    const got = ensemble.decoder
      .step(ensemble.decoder.start({ grid, pooled }), start)
      .logProbs.arraySync()[0]!;
    const part = (m: typeof a, from: number, size: number) =>
      tf.exp(
        m.decoder.step(
          m.decoder.start({
            grid: grid.slice([0, 0, from], [1, 4, size]),
            pooled: pooled.slice([0, from], [1, size]),
          }),
          start,
        ).logProbs,
      );
    const expected = tf.log(tf.div(tf.add(part(a, 0, 5), part(b, 5, 3)), 2)).arraySync() as number[][];
    got.forEach((v, k) => {
      expect(v).toBeCloseTo(expected[0]![k]!, 5);
    });
    for (const m of [ensemble, a, b]) m.decoder.dispose();
  });

  it("records an encoder for members whose grids are block means of one another", async () => {
    const dir = path.join(root, "mixed");
    await saveEnsembleModel(dir, [path.join(root, "fine"), path.join(root, "a")], {
      name: "mixed",
      encoder: "enc_fine+enc_fine",
    });
    const mixed = await loadModel(dir);
    expect(mixed.meta.encoder).toBe("enc_fine+enc_fine");
    expect(mixed.decoder.shape).toMatchObject({ regions: 16, featureDim: 10 });
    mixed.decoder.dispose();
  });

  it("refuses members with other vocabularies and names a broken member", async () => {
    await expect(
      saveEnsembleModel(path.join(root, "bad"), [path.join(root, "a"), path.join(root, "c")], { name: "x" }),
    ).rejects.toThrow(/vocabularies differ/);
    const dir = path.join(root, "broken");
    await saveEnsembleModel(dir, [path.join(root, "a"), path.join(root, "b")], { name: "y" });
    await unlink(path.join(dir, "member-2", "weights.bin"));
    await expect(loadModel(dir)).rejects.toThrow(/member-2.*missing weights file/);
  });
});

import { readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Vocabulary } from "../data/vocabulary.js";
import { createDecoder } from "../decoders/factory.js";
import { loadCaptionModel } from "../model/load.js";
import { saveModel } from "../model/single.js";
import { initBackend } from "../tfjs/backend.js";
import { loadCaptionScorer, storedFeatureBatch } from "./caption-model.js";
import { openDatabase } from "./db/schema.js";
import { PhotoStore } from "./db/store.js";
import { indexFolder } from "./indexer.js";
import { openPhotoSearch } from "./photo-search.js";
import type { ImageFeatures } from "./pipeline.js";
import { scorerReads } from "./rankers/generative.js";
import { COLOURS, ColourPipeline, tempDir, writeColourImage } from "./test-fixtures.js";

/** A random 8-unit attention decoder over the colour fixture's 4 x 3 grids: wiring, not quality. */
async function tinyCaptioner(dir: string) {
  const vocabulary = Vocabulary.build([["a", "red", "green", "blue", "yellow", "square"]], { minCount: 1 });
  const decoder = createDecoder(
    { kind: "show-attend-tell", embedDim: 8, hiddenDim: 8, attentionDim: 8, dropout: 0 },
    { vocabSize: vocabulary.size, regions: 4, featureDim: 3, pooledDim: 3 },
    5,
  );
  await saveModel(dir, decoder, {
    name: "tiny-colour",
    encoder: "colour",
    vocabulary: vocabulary.toJSON(),
    preprocessing: { size: 32, normalization: { mean: [0, 0, 0], std: [1, 1, 1] }, fit: "fill" },
  });
  decoder.dispose();
  return { scorer: await loadCaptionScorer(dir), model: await loadCaptionModel(dir) };
}

describe("caption model for the index and generative ranking", () => {
  beforeAll(async () => {
    await initBackend("wasm");
  });

  it("captions from features, and generative search over stored 8-bit grids matches the float scores", async () => {
    const dir = await tempDir();
    for (const [name, rgb] of Object.entries(COLOURS))
      await writeColourImage(path.join(dir, `${name}.png`), rgb);
    const { scorer: captioner, model } = await tinyCaptioner(path.join(dir, "model"));
    const pipeline = new ColourPipeline();
    const [processed] = await pipeline.process([
      {
        path: "x",
        bytes: await readFile(path.join(dir, "red.png")),
      },
    ]);
    const features = (processed as { features: ImageFeatures[] }).features;
    const [caption] = model.caption([storedFeatureBatch(features, model.runtime.shape)]);
    expect(caption!.caption).toMatch(/^[A-Z].*\.$/);
    expect(caption!.confidence).toBeGreaterThan(0);

    // batching over images does not change a score
    const both = await captioner.score("a red square", [features[0]!, features[0]!]);
    const one = await captioner.score("a red square", [features[0]!]);
    expect(both[0]).toBeCloseTo(one[0]!, 5);
    expect(both[1]).toBeCloseTo(one[0]!, 5);

    const db = path.join(dir, "photos.sqlite");
    const store = new PhotoStore(openDatabase(db));
    await indexFolder(store, dir, new ColourPipeline());
    store.db.close();
    const photos = await openPhotoSearch(db, { scorer: captioner, embeddingModel: path.join(dir, "none") });
    const { results } = await photos.search("a red square", {
      method: "generative",
      k: 4,
      includeWeak: true,
    });
    expect(results).toHaveLength(4);
    for (const r of results) {
      const fresh = await pipeline.process([{ path: r.image, bytes: await readFile(r.image) }]);
      const [expected] = await captioner.score(
        "a red square",
        (fresh[0] as { features: ImageFeatures[] }).features,
      );
      expect(r.score).toBeCloseTo(expected!, 2);
    }
    photos.close();
  });
});

describe("stored features for a scorer that reads the first part of a joined encoder", () => {
  it("takes the first channels of every region and the first pooled values", () => {
    // two regions x (2 + 1) channels, as an "a+b" store holds them; the scorer reads "a" (2 channels)
    const stored: ImageFeatures = {
      encoder: "a+b",
      grid: Float32Array.of(1, 2, 9, 3, 4, 9),
      pooled: Float32Array.of(5, 6, 9),
      regions: 2,
    };
    const batch = storedFeatureBatch([stored, stored], {
      vocabSize: 5,
      regions: 2,
      featureDim: 2,
      pooledDim: 2,
    });
    expect([...batch.grid]).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    expect([...batch.pooled]).toEqual([5, 6, 5, 6]);
    expect(scorerReads("a", "a+b")).toBe(true);
    expect(scorerReads("a", "a")).toBe(true);
    expect(scorerReads("a", "ab+a")).toBe(false);
    expect(() =>
      storedFeatureBatch([stored], { vocabSize: 5, regions: 2, featureDim: 4, pooledDim: 2 }),
    ).toThrow(/2x4 grid features/);
  });
});

import path from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "./db/schema.js";
import { PhotoStore } from "./db/store.js";
import { saveJointEmbedding } from "./embedding/io.js";
import { indexFolder } from "./indexer.js";
import { loadEmbeddingWithId } from "./models.js";
import { openPhotoSearch } from "./photo-search.js";
import type { CaptionScorer } from "./rankers/generative.js";
import {
  COLOURS,
  ColourPipeline,
  colourEmbedding,
  nearestColour,
  tempDir,
  writeColourImage,
} from "./test-fixtures.js";

async function indexedColours() {
  const dir = await tempDir();
  for (const [name, rgb] of Object.entries(COLOURS))
    await writeColourImage(path.join(dir, `${name}.png`), rgb);
  const modelDir = path.join(dir, "embedding");
  await saveJointEmbedding(colourEmbedding(), modelDir);
  const embedding = await loadEmbeddingWithId(modelDir);
  const db = path.join(dir, "photos.sqlite");
  const store = new PhotoStore(openDatabase(db));
  await indexFolder(store, dir, new ColourPipeline(embedding));
  store.setMeta("embedding_model_dir", modelDir);
  store.db.close();
  return { dir, db, modelDir };
}

/** Scores an image by how close its pooled colour is to the colour named in the query. */
const colourScorer: CaptionScorer = {
  encoder: "colour",
  async score(text, images) {
    return images.map((f) => (text.includes(nearestColour(f.pooled)) ? -0.5 : -3));
  },
  dispose() {},
};

describe("openPhotoSearch", () => {
  it("ranks the right image first with every method", async () => {
    const { db } = await indexedColours();
    const photos = await openPhotoSearch(db, { scorer: colourScorer });
    expect(photos.count()).toBe(4);
    for (const method of ["fts", "embedding", "fusion", "generative"] as const) {
      for (const colour of Object.keys(COLOURS)) {
        const results = await photos.search(`a ${colour} thing`, { k: 2, method });
        expect(results[0]!.image, `${method} ${colour}`).toBe(path.join(path.dirname(db), `${colour}.png`));
        expect(results[0]!.caption).toBe(`A ${colour} square.`);
        expect(results.length).toBeLessThanOrEqual(2);
      }
    }
    photos.close();
  });

  it("returns results best first, and falls back to captions for words the embedding does not know", async () => {
    const { db } = await indexedColours();
    const photos = await openPhotoSearch(db);
    const results = await photos.search("red", { k: 4, method: "embedding" });
    expect(results).toHaveLength(4);
    for (let i = 1; i < results.length; i++)
      expect(results[i]!.score).toBeLessThanOrEqual(results[i - 1]!.score);
    // "square" is unknown to the colour embedding but appears in every caption
    expect(await photos.search("square", { method: "embedding" })).toHaveLength(4);
    expect(await photos.search("zebra")).toEqual([]);
    // FTS syntax in a query is taken literally
    expect(await photos.search('red" OR NEAR(', { method: "fts" })).toHaveLength(1);
    photos.close();
  });

  it("sees images indexed after it was opened", async () => {
    const { dir, db } = await indexedColours();
    const photos = await openPhotoSearch(db);
    expect((await photos.search("purple", { method: "fts" })).length).toBe(0);
    await writeColourImage(path.join(dir, "more-red.png"), [200, 30, 30]);
    const store = new PhotoStore(openDatabase(db));
    const { modelDir } = { modelDir: store.getMeta("embedding_model_dir")! };
    await indexFolder(store, dir, new ColourPipeline(await loadEmbeddingWithId(modelDir)));
    store.db.close();
    expect(photos.count()).toBe(5);
    const red = await photos.search("red", { method: "embedding", k: 2 });
    expect(red.map((r) => path.basename(r.image)).sort()).toEqual(["more-red.png", "red.png"]);
    photos.close();
  });

  it("explains what to do when the index is missing", async () => {
    await expect(openPhotoSearch("/nonexistent/photos.sqlite")).rejects.toThrow(/captionkit index/);
  });
});

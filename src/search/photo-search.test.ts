import path from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "./db/schema.js";
import { PhotoStore } from "./db/store.js";
import { indexFolder } from "./indexer.js";
import { loadEmbeddingWithId } from "./models.js";
import { openPhotoSearch } from "./photo-search.js";
import { EMBEDDING_MIN_SCORE } from "./rankers/embedding.js";
import type { CaptionScorer } from "./rankers/generative.js";
import {
  COLOURS,
  ColourPipeline,
  indexedColours,
  nearestColour,
  tempDir,
  writeColourImage,
} from "./test-fixtures.js";

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
        const { results } = await photos.search(`a ${colour} thing`, { k: 2, method, includeWeak: true });
        expect(results[0]!.image, `${method} ${colour}`).toBe(path.join(path.dirname(db), `${colour}.png`));
        expect(results[0]!.caption).toBe(`A ${colour} square.`);
        expect(results.length).toBeLessThanOrEqual(2);
      }
    }
    photos.close();
  });

  it("ranks generatively by default when the index has the scorer's grids, else by the embedding", async () => {
    const { db } = await indexedColours();
    const withScorer = await openPhotoSearch(db, { scorer: colourScorer });
    const generative = await withScorer.search("a green thing", { k: 1 });
    expect(generative).toMatchObject({ method: "generative", results: [{ score: -0.5, good: true }] });
    expect(generative.fallback).toBeUndefined();
    // good = good for the embedding (its measured threshold) and at least GENERATIVE_MIN_SCORE: the
    // other squares score -3, above it, and only those the embedding accepts stay good
    const all = await withScorer.search("a green thing", { k: 4, includeWeak: true });
    const embedded = await withScorer.search("a green thing", {
      k: 4,
      method: "embedding",
      includeWeak: true,
    });
    const goodForEmbedding = new Set(embedded.results.filter((r) => r.good).map((r) => r.image));
    expect(all.results).toHaveLength(4);
    for (const r of all.results) expect(r.good, r.image).toBe(goodForEmbedding.has(r.image));
    expect(all.results.some((r) => !r.good && r.score === -3)).toBe(true);
    // the best likelihood on a photo the embedding rejects: k counts the good matches, not the scores
    const favoursRed = await openPhotoSearch(db, {
      scorer: {
        ...colourScorer,
        score: async (_text, images) => images.map((f) => (nearestColour(f.pooled) === "red" ? -0.1 : -0.5)),
      },
    });
    const best = await favoursRed.search("a green thing", { k: 1 });
    expect(best.results).toHaveLength(1);
    expect(best.results[0]!.good).toBe(true);
    expect(path.basename(best.results[0]!.image)).not.toBe("red.png");
    const weak = await favoursRed.search("a green thing", { k: 1, includeWeak: true });
    expect(weak.results.map((r) => [path.basename(r.image), r.good])).toEqual([["red.png", false]]);
    favoursRed.close();
    withScorer.close();
    // a scorer whose encoder the index never stored: the default says why it used the embedding
    const other = await openPhotoSearch(db, { scorer: { ...colourScorer, encoder: "centernet_448" } });
    const fallback = await other.search("a green thing", { k: 1 });
    expect(fallback.method).toBe("embedding");
    expect(fallback.fallback).toEqual({
      from: "generative",
      reason: expect.stringMatching(/no centernet_448 grid features/),
    });
    expect(path.basename(fallback.results[0]!.image)).toBe("green.png");
    // named explicitly, generative does not fall back: it says how to fix the index
    await expect(other.search("a green thing", { method: "generative" })).rejects.toThrow(/rebuild it/);
    other.close();
  });

  it("returns results best first, and says so when it falls back to captions", async () => {
    const { db } = await indexedColours();
    const photos = await openPhotoSearch(db);
    const all = await photos.search("red", { k: 4, method: "embedding", includeWeak: true });
    expect(all).toMatchObject({ method: "embedding", noGoodMatch: false });
    expect(all.fallback).toBeUndefined();
    expect(all.results).toHaveLength(4);
    for (let i = 1; i < all.results.length; i++)
      expect(all.results[i]!.score).toBeLessThanOrEqual(all.results[i - 1]!.score);
    // without includeWeak, only the good ones: red itself, not the blue square
    const good = await photos.search("red", { k: 4, method: "embedding" });
    expect(good.results.length).toBeLessThan(4);
    expect(good.results.every((r) => r.good && r.score >= EMBEDDING_MIN_SCORE)).toBe(true);
    expect(path.basename(good.results[0]!.image)).toBe("red.png");
    // "square" is unknown to the colour embedding but appears in every caption
    const square = await photos.search("square", { method: "embedding" });
    expect(square.method).toBe("fts");
    expect(square.fallback).toEqual({
      from: "embedding",
      reason: expect.stringMatching(/no word of the query/),
    });
    expect(square.results).toHaveLength(4);
    expect(await photos.search("zebra")).toMatchObject({ results: [], noGoodMatch: true });
    // FTS syntax in a query is taken literally
    expect((await photos.search('red" OR NEAR(', { method: "fts" })).results).toHaveLength(1);
    photos.close();
  });

  it("says which method it used, and why, when the default cannot be used", async () => {
    const { dir, db } = await indexedColours();
    const photos = await openPhotoSearch(db, { embeddingModel: path.join(dir, "missing") });
    const answer = await photos.search("red");
    expect(answer.method).toBe("fts");
    // the default (generative) needs the caption model's grids, the embedding its model: neither is here
    expect(answer.fallback).toEqual({
      from: "generative",
      reason: expect.stringMatching(/caption model.*; no joint-embedding model/),
    });
    expect(path.basename(answer.results[0]!.image)).toBe("red.png");
    expect((await photos.search("red", { method: "fusion" })).fallback?.from).toBe("fusion");
    await expect(photos.search("red", { method: "embedding" })).rejects.toThrow(/--method fts/);
    photos.close();
  });

  it("full-text search looks for the content words, not 'a', 'on' and 'the'", async () => {
    const dir = await tempDir();
    const db = path.join(dir, "photos.sqlite");
    const store = new PhotoStore(openDatabase(db));
    const captions = [
      "A dog runs on the grass.",
      "A black dog running through the grass.",
      "A dog on the beach.",
      ...Array.from({ length: 297 }, (_, i) => `A ${["man", "girl", "boy"][i % 3]} on the street ${i}.`),
    ];
    captions.forEach((caption, i) => {
      store.putImage({ path: `/p/${i}.jpg`, size: 1, mtimeMs: 1, hash: String(i), caption, confidence: 1 });
    });
    store.db.close();
    const photos = await openPhotoSearch(db, { embeddingModel: path.join(dir, "none") });
    const answer = await photos.search("a dog running on the grass", { method: "fts", k: 300 });
    // two of the three content words at least (Porter: "runs" matches "running")
    // both have all three; BM25 puts the shorter caption first
    expect(answer.results.map((r) => r.caption)).toEqual([captions[0], captions[1]]);
    const weak = await photos.search("a dog running on the grass", {
      method: "fts",
      k: 300,
      includeWeak: true,
    });
    expect(weak.results.map((r) => [r.caption, r.good])).toEqual([
      [captions[0], true],
      [captions[1], true],
      [captions[2], false],
    ]);
    expect(await photos.search("a cat on the sofa", { method: "fts" })).toMatchObject({
      results: [],
      noGoodMatch: true,
    });
    photos.close();
  });

  it("sees images indexed after it was opened", async () => {
    const { dir, db } = await indexedColours();
    const photos = await openPhotoSearch(db);
    expect((await photos.search("purple", { method: "fts" })).results.length).toBe(0);
    await writeColourImage(path.join(dir, "more-red.png"), [200, 30, 30]);
    const store = new PhotoStore(openDatabase(db));
    const { modelDir } = { modelDir: store.getMeta("embedding_model_dir")! };
    await indexFolder(store, dir, new ColourPipeline(await loadEmbeddingWithId(modelDir)));
    store.db.close();
    expect(photos.count()).toBe(5);
    const { results: red } = await photos.search("red", { method: "embedding", k: 2 });
    expect(red.map((r) => path.basename(r.image)).sort()).toEqual(["more-red.png", "red.png"]);
    photos.close();
  });

  it("explains what to do when the index is missing", async () => {
    await expect(openPhotoSearch("/nonexistent/photos.sqlite")).rejects.toThrow(/captionkit index/);
  });
});

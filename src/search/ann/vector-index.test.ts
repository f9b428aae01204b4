import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { encodeFloat16 } from "../../core/float16.js";
import { Rng } from "../../core/rng.js";
import { openDatabase } from "../db/schema.js";
import { PhotoStore } from "../db/store.js";
import { openPhotoSearch } from "../photo-search.js";
import { topK } from "../rankers/top-k.js";
import { COLOURS, indexedColours, tempDir } from "../test-fixtures.js";
import { annFiles, syncVectorIndex, VectorIndex } from "./vector-index.js";

const DIM = 9;
const MODEL = "m@1";

/** Unit vectors around 12 centres (float16-rounded, as stored), keyed by the ids a store gives them. */
function randomVector(rng: Rng, centre: number): Float32Array {
  const v = Float32Array.from({ length: DIM }, (_, j) => (j === centre % DIM ? 2 : 0) + rng.next() - 0.5);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

async function storeWith(count: number) {
  const db = path.join(await tempDir(), "photos.sqlite");
  const store = new PhotoStore(openDatabase(db));
  const rng = new Rng(3);
  const vectors = new Map<number, Float32Array>();
  const put = (name: string) => {
    const id = store.putImage({
      path: `/p/${name}.jpg`,
      size: 1,
      mtimeMs: 1,
      hash: name,
      caption: name,
      confidence: 1,
    });
    const v = randomVector(rng, id);
    store.putEmbedding(id, MODEL, encodeFloat16(v));
    vectors.set(id, v);
    return id;
  };
  store.db.transaction(() => {
    for (let i = 0; i < count; i++) put(`img${i}`);
  })();
  return { db, store, vectors, put, rng };
}

/** Share of the exact top 10 that the graph finds, over queries. */
function recallAt10(index: VectorIndex, vectors: Map<number, Float32Array>, rng: Rng): number {
  const ids = [...vectors.keys()];
  let hits = 0;
  const queries = 30;
  for (let q = 0; q < queries; q++) {
    const query = randomVector(rng, q);
    const scores = ids.map((id) => vectors.get(id)!.reduce((s, x, j) => s + x * query[j]!, 0));
    const exact = new Set(topK(scores, 10).map((i) => ids[i]!));
    hits += index.search(query, 10).ids.filter((id) => exact.has(id)).length;
  }
  return hits / (queries * 10);
}

describe("the HNSW graph beside the index", () => {
  it("finds what exact search finds, and follows additions, changes and removals incrementally", async () => {
    const { db, store, vectors, put, rng } = await storeWith(600);
    expect(syncVectorIndex(db, store, MODEL, { minVectors: 0 }).action).toBe("built");
    expect(existsSync(annFiles(db).graph)).toBe(true);
    expect(store.embeddingLog().start).toBeUndefined(); // pruned: the saved graph holds it all
    const built = VectorIndex.open(db, store, MODEL, DIM)!;
    expect(recallAt10(built, vectors, rng)).toBeGreaterThanOrEqual(0.95);

    // 100 new, 50 changed, 50 removed (the last through the images table's cascade)
    const added = Array.from({ length: 100 }, (_, i) => put(`new${i}`));
    const ids = [...vectors.keys()];
    const goneVectors = ids.slice(50, 60).map((id) => vectors.get(id)!);
    store.db.transaction(() => {
      for (const id of ids.slice(0, 50)) {
        const v = randomVector(rng, id + 5);
        store.putEmbedding(id, MODEL, encodeFloat16(v));
        vectors.set(id, v);
      }
      for (const id of ids.slice(50, 100)) {
        store.remove(id);
        vectors.delete(id);
      }
    })();
    const before = readFileSync(annFiles(db).graph);
    expect(syncVectorIndex(db, store, MODEL, { minVectors: 0 }).action).toBe("updated");
    expect(readFileSync(annFiles(db).graph).equals(before)).toBe(false);
    const updated = VectorIndex.open(db, store, MODEL, DIM)!;
    expect(recallAt10(updated, vectors, rng)).toBeGreaterThanOrEqual(0.95);
    for (const id of added.slice(0, 10)) expect(updated.search(vectors.get(id)!, 1).ids).toEqual([id]);
    const removed = new Set(ids.slice(50, 100));
    for (const v of goneVectors) {
      // a removed vector itself as the query: it is never found again
      expect(updated.search(v, 20).ids.some((x) => removed.has(x))).toBe(false);
    }
    expect(syncVectorIndex(db, store, MODEL, { minVectors: 0 }).action).toBe("unchanged");
    store.db.close();
  });

  it("a reader catches up from the change log without the writer having saved", async () => {
    const { db, store, vectors, put } = await storeWith(200);
    syncVectorIndex(db, store, MODEL, { minVectors: 0 });
    const id = put("late");
    const reader = VectorIndex.open(db, store, MODEL, DIM)!;
    expect(reader.search(vectors.get(id)!, 1).ids).toEqual([id]);
    store.db.close();
  });

  it("is rebuilt when its file is deleted, is another model's, or the log no longer reaches it", async () => {
    const { db, store, vectors, put } = await storeWith(300);
    syncVectorIndex(db, store, MODEL, { minVectors: 0 });
    rmSync(annFiles(db).graph);
    expect(VectorIndex.open(db, store, MODEL, DIM)).toBeUndefined();
    expect(syncVectorIndex(db, store, MODEL, { minVectors: 0 }).action).toBe("built");

    expect(VectorIndex.open(db, store, "other@2", DIM)).toBeUndefined();
    const state = JSON.parse(readFileSync(annFiles(db).state, "utf8"));
    writeFileSync(annFiles(db).state, JSON.stringify({ ...state, indexUid: "another-database" }));
    expect(VectorIndex.open(db, store, MODEL, DIM)).toBeUndefined();
    writeFileSync(annFiles(db).state, JSON.stringify(state));

    // a change logged and pruned (by a writer that saved elsewhere): the saved graph is stale
    const id = put("lost");
    store.pruneEmbeddingLog(store.embeddingLog().end);
    expect(VectorIndex.open(db, store, MODEL, DIM)).toBeUndefined();
    expect(syncVectorIndex(db, store, MODEL, { minVectors: 0 }).action).toBe("built");
    expect(VectorIndex.open(db, store, MODEL, DIM)!.search(vectors.get(id)!, 1).ids).toEqual([id]);
    store.db.close();
  });

  it("is kept only from the size threshold on", async () => {
    const { db, store } = await storeWith(50);
    expect(syncVectorIndex(db, store, MODEL, { minVectors: 100 }).action).toBe("none");
    expect(existsSync(annFiles(db).graph)).toBe(false);
    expect(store.embeddingLog().start).toBeUndefined();
    store.db.close();
  });

  it("index keeps it and search through it gives the exact ranking's answers", async () => {
    const { db, summary } = await indexedColours({ annMinVectors: 0 });
    expect(summary.vectorIndex).toBe("built");
    const ann = await openPhotoSearch(db, { vectorSearch: "ann" });
    const exact = await openPhotoSearch(db, { vectorSearch: "exact" });
    for (const colour of Object.keys(COLOURS)) {
      const a = await ann.search(colour, { k: 4, includeWeak: true, method: "embedding" });
      const e = await exact.search(colour, { k: 4, includeWeak: true, method: "embedding" });
      expect(a.results.map((r) => r.image)).toEqual(e.results.map((r) => r.image));
      for (const [i, r] of a.results.entries()) expect(r.score).toBeCloseTo(e.results[i]!.score, 5);
      expect(path.basename(a.results[0]!.image)).toBe(`${colour}.png`);
    }
    ann.close();
    exact.close();
  });
});

/**
 * Search latency over a 10,000-image index: synthetic captions and embedding vectors (the query path
 * does not care where they came from), real FTS5 table, real joint-embedding text encoder.
 *   npx tsx bench/search.ts [--images 10000] [--queries 200] [--embedding-model models/embedding]
 *                           [--caption-model DIR [--candidates N]]
 * Prints p50/p95 per method, plus the time to open the index and answer the first query.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { encodeFloat16 } from "../src/core/float16.js";
import { mulberry32 } from "../src/core/rng.js";
import { type CaptionModelFolder, loadCaptionModel } from "../src/model/load.js";
import { loadCaptionScorer } from "../src/search/caption-model.js";
import { openDatabase } from "../src/search/db/schema.js";
import { PhotoStore } from "../src/search/db/store.js";
import { DEFAULT_EMBEDDING_DIR, loadEmbeddingWithId } from "../src/search/models.js";
import { openPhotoSearch } from "../src/search/photo-search.js";
import { quantizeRows } from "../src/search/quantize.js";
import type { RankingMethod } from "../src/search/types.js";

const { values: args } = parseArgs({
  options: {
    images: { type: "string", default: "10000" },
    queries: { type: "string", default: "200" },
    "embedding-model": { type: "string", default: DEFAULT_EMBEDDING_DIR },
    // generative re-ranking needs a caption model and a grid per image (about 90-110 KB each)
    "caption-model": { type: "string" },
    // the shortlist generative ranking re-scores (default: PhotoSearch's)
    candidates: { type: "string" },
  },
});
const imageCount = Number(args.images);
const queryCount = Number(args.queries);
if (!existsSync(DEFAULT_EMBEDDING_DIR))
  throw new Error(`bench needs the shipped embedding model in ${DEFAULT_EMBEDDING_DIR}`);
const embedding = await loadEmbeddingWithId(DEFAULT_EMBEDDING_DIR);
const dim = embedding.model.searchDim;

const WHO = [
  "a dog",
  "two dogs",
  "a man",
  "a woman",
  "a little girl",
  "a boy",
  "a group of people",
  "a black dog",
  "a child",
  "a cyclist",
];
const DOES = [
  "runs",
  "jumps",
  "plays",
  "sits",
  "stands",
  "climbs",
  "swims",
  "rides a bike",
  "walks",
  "is smiling",
];
const WHERE = [
  "on the beach",
  "in the snow",
  "through the grass",
  "in the water",
  "on a rock",
  "in a park",
  "on the street",
  "near a fountain",
  "in a field",
  "on a dirt track",
];
const random = mulberry32(42);
const pick = (list: string[]) => list[Math.floor(random() * list.length)]!;
const sentence = () => `${pick(WHO)} ${pick(DOES)} ${pick(WHERE)}`;

const captioner = args["caption-model"] ? await loadCaptionModel(args["caption-model"]) : undefined;
const gridBlob = captioner ? syntheticGrid(captioner) : undefined;

const dir = await mkdtemp(path.join(os.tmpdir(), "captionkit-bench-search-"));
const db = path.join(dir, "photos.sqlite");
let t = Date.now();
const store = new PhotoStore(openDatabase(db));
store.db.transaction(() => {
  for (let i = 0; i < imageCount; i++) {
    const caption = `${sentence()}.`;
    const id = store.putImage({
      path: `/photos/img${i}.jpg`,
      size: 1,
      mtimeMs: 1,
      hash: `h${i}`,
      caption,
      confidence: 0.5,
    });
    // a vector near the caption's own text embedding, like a trained model gives for a matching image
    const v = embedding.model.queryVector(caption)!.map((x) => x + (random() - 0.5) * 0.1);
    store.putEmbedding(id, embedding.id, encodeFloat16(v));
    if (captioner && gridBlob) {
      store.putFeatures(id, {
        encoder: captioner.info.encoder,
        pooled: gridBlob.pooled,
        grid: gridBlob.grid,
      });
    }
  }
  store.setMeta("embedding_model_dir", embedding.dir);
  if (captioner) store.setMeta("caption_model_dir", captioner.dir);
})();
store.db.close();
console.log(`built a ${imageCount}-image index (dim ${dim}) in ${Date.now() - t} ms`);

t = performance.now();
const photos = await openPhotoSearch(db, {
  ...(captioner ? { scorer: await loadCaptionScorer(captioner.dir) } : {}),
  ...(args.candidates ? { generativeCandidates: Number(args.candidates) } : {}),
});
await photos.search(sentence(), { method: "embedding" });
console.log(`open + first embedding query: ${(performance.now() - t).toFixed(1)} ms`);

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const methods: RankingMethod[] = [
  "fts",
  "embedding",
  "fusion",
  ...(captioner ? (["generative"] as const) : []),
];
for (const method of methods) {
  if (method === "generative") await photos.search(sentence(), { method }); // first call warms the decoder
  const times: number[] = [];
  for (let q = 0; q < queryCount; q++) {
    const query = sentence();
    const start = performance.now();
    const { results } = await photos.search(query, { k: 10, method, includeWeak: true });
    times.push(performance.now() - start);
    if (results.length === 0) throw new Error(`${method}: no results for "${query}"`);
  }
  console.log(
    `${method.padEnd(10)} ${queryCount} queries over ${photos.count()} images: p50 ${percentile(times, 0.5).toFixed(1)} ms, p95 ${percentile(times, 0.95).toFixed(1)} ms`,
  );
}
photos.close();
await rm(dir, { recursive: true, force: true });

/** One random grid in the caption model's input shape, stored for every image (the values do not matter for timing). */
function syntheticGrid(model: CaptionModelFolder): { pooled: Buffer; grid: Buffer } {
  const { regions, featureDim, pooledDim } = model.runtime.shape;
  const grid = Float32Array.from({ length: regions * featureDim }, () => random() * 6);
  return { pooled: encodeFloat16(new Float32Array(pooledDim).fill(0.5)), grid: quantizeRows(grid, regions) };
}

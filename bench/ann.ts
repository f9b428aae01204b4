/**
 * The HNSW graph (src/search/ann/) against exact search.
 *
 *   npx tsx bench/ann.ts [--part synthetic|flickr8k|all] [--count 1000000] [--queries 100]
 *                        [--flickr8k DIR] [--embedding-model DIR] [--ef N]
 *
 * synthetic: `count` vectors shaped like the index's (the joint embedding's search width: a unit
 * vector in jointDim plus the hubness-penalty slot), drawn around 2,000 random centres so that
 * neighbourhoods exist as in real embeddings; queries are [unit vector near a centre, 1] like
 * queryVector's. Reports build time, memory, the graph file's size, query p50/p95 and recall@10
 * against an exact scan. flickr8k: R@5/R@10 of the val captions through the graph and exactly, with
 * the shipped embedding (skipped with a reason when ../shared is absent).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Rng } from "../src/core/rng.js";
import { HNSW_DEFAULTS, HnswIndex } from "../src/search/ann/hnsw.js";
import { embeddingSimilarity } from "../src/search/embedding/similarity.js";
import { DEFAULT_EMBEDDING_DIR, loadEmbeddingWithId } from "../src/search/models.js";
import { topK } from "../src/search/rankers/top-k.js";
import { evaluateSimilarity } from "../src/search/retrieval-metrics.js";
import { embeddingInputs, flickr8kDir, readFlickr8kVal } from "./flickr8k-val.js";

const { values } = parseArgs({
  options: {
    part: { type: "string", default: "all" },
    count: { type: "string", default: "1000000" },
    queries: { type: "string", default: "100" },
    flickr8k: { type: "string" },
    "embedding-model": { type: "string", default: DEFAULT_EMBEDDING_DIR },
    /** comma-separated efSearch values to measure on the same graph */
    ef: { type: "string" },
    /** keep the synthetic graph in this file, and reuse it when it exists (the build takes long) */
    keep: { type: "string" },
  },
});
const efs = values.ef ? values.ef.split(",").map(Number) : [HNSW_DEFAULTS.efSearch];
const params = { ...HNSW_DEFAULTS, efSearch: efs[0]! };
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
console.log(
  `load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} on ${os.cpus().length} cores; ${JSON.stringify(params)}`,
);

if (values.part !== "flickr8k") synthetic(Number(values.count), Number(values.queries));
if (values.part !== "synthetic") await flickr8k();

function synthetic(count: number, queryCount: number): void {
  const joint = JSON.parse(readFileSync(path.join(values["embedding-model"], "model.json"), "utf8")).config
    .jointDim as number;
  const dim = joint + 1;
  const rng = new Rng(7);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const centres = Array.from({ length: 2000 }, () => Float32Array.from({ length: joint }, gauss));
  const near = (out: Float32Array, spread: number) => {
    const c = centres[rng.int(centres.length)]!;
    let norm = 0;
    for (let j = 0; j < joint; j++) {
      out[j] = c[j]! + spread * gauss();
      norm += out[j]! * out[j]!;
    }
    for (let j = 0; j < joint; j++) out[j]! /= Math.sqrt(norm);
  };
  const vectors = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const v = vectors.subarray(i * dim, (i + 1) * dim);
    near(v, 1);
    v[joint] = -0.5 * (0.3 + 0.3 * rng.next()); // -beta x hubness, beta 0.5 as shipped
  }
  const queries = Array.from({ length: queryCount }, () => {
    const q = new Float32Array(dim);
    near(q, 1.5);
    q[joint] = 1;
    return q;
  });
  console.log(
    `synthetic: ${count} vectors of ${dim} floats (${mb(vectors.byteLength)}), ${queryCount} queries`,
  );

  const dir = mkdtempSync(path.join(os.tmpdir(), "captionkit-ann-bench-"));
  const file = values.keep ?? path.join(dir, "bench.hnsw");
  if (values.keep && existsSync(values.keep)) {
    console.log(`  reusing the graph in ${values.keep} (same seed, so the same vectors)`);
  } else {
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const graph = HnswIndex.create(dim, count, params);
    for (let i = 0; i < count; i++) {
      graph.add(i, vectors.subarray(i * dim, (i + 1) * dim));
      if (i % 100_000 === 99_999)
        console.log(`  built ${i + 1} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
    const buildSeconds = (performance.now() - started) / 1000;
    const rssGraph = process.memoryUsage().rss - rssBefore;
    const saveStarted = performance.now();
    graph.save(file);
    const saveSeconds = (performance.now() - saveStarted) / 1000;
    console.log(
      `  build ${buildSeconds.toFixed(0)} s (${(count / buildSeconds).toFixed(0)} vectors/s, one thread), ` +
        `graph memory ${mb(rssGraph)} RSS, file ${mb(statSync(file).size)} (save ${saveSeconds.toFixed(1)} s)`,
    );
  }
  const exactTimes: number[] = [];
  const scores = new Float32Array(count);
  const truth = queries.map((q) => {
    const t = performance.now();
    for (let i = 0; i < count; i++) {
      let s = 0;
      const base = i * dim;
      for (let j = 0; j < dim; j++) s += q[j]! * vectors[base + j]!;
      scores[i] = s;
    }
    const exact = new Set(topK(scores, 10));
    exactTimes.push(performance.now() - t);
    return exact;
  });
  console.log(`  exact scan p50 ${percentile(exactTimes, 0.5).toFixed(1)} ms`);
  const loadStarted = performance.now();
  const searcher = HnswIndex.load(file, dim, params);
  console.log(`  load ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);
  for (const ef of efs) {
    searcher.setEf(ef);
    const annTimes: number[] = [];
    let hits = 0;
    queries.forEach((q, n) => {
      const t = performance.now();
      const ann = searcher.search(q, 10).ids;
      annTimes.push(performance.now() - t);
      hits += ann.filter((id) => truth[n]!.has(id)).length;
    });
    console.log(
      `  ef ${ef}: ANN query p50 ${percentile(annTimes, 0.5).toFixed(2)} ms, p95 ${percentile(annTimes, 0.95).toFixed(2)} ms; ` +
        `recall@10 ${(hits / (10 * queries.length)).toFixed(4)}`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

async function flickr8k(): Promise<void> {
  const flickr = flickr8kDir(values.flickr8k);
  const val = readFlickr8kVal(flickr);
  if (!val) {
    console.log(`flickr8k: skipped, no Flickr8k at ${flickr}`);
    return;
  }
  const { names, captions } = val;
  const { model } = await loadEmbeddingWithId(values["embedding-model"]);
  const pooled = await embeddingInputs(model, flickr, names);
  const queries = names.flatMap((n) => captions.get(n)!);
  const owner = names.flatMap((n, i) => captions.get(n)!.map(() => i));
  const exact = evaluateSimilarity(
    embeddingSimilarity(model, pooled, queries),
    owner,
    names.length,
  ).textToImage;

  const graph = HnswIndex.create(model.searchDim, names.length, params);
  names.forEach((_, i) => {
    graph.add(i, model.searchVector(pooled.subarray(i * model.imageDim, (i + 1) * model.imageDim)));
  });
  let at5 = 0;
  let at10 = 0;
  let known = 0;
  queries.forEach((query, q) => {
    const v = model.queryVector(query);
    // exact search scores a query with no known word 0 everywhere: a miss for both
    if (!v) return;
    known++;
    const rank = graph.search(v, 10).ids.indexOf(owner[q]!);
    if (rank >= 0 && rank < 5) at5++;
    if (rank >= 0) at10++;
  });
  const ann = { "R@5": at5 / queries.length, "R@10": at10 / queries.length };
  console.log(
    `flickr8k val: ${names.length} images, ${queries.length} queries (${known} with a known word); ` +
      `exact R@5 ${exact["R@5"].toFixed(4)} R@10 ${exact["R@10"].toFixed(4)}; ` +
      `ANN R@5 ${ann["R@5"].toFixed(4)} R@10 ${ann["R@10"].toFixed(4)}; ` +
      `differences ${Math.abs(ann["R@5"] - exact["R@5"]).toFixed(4)} / ${Math.abs(ann["R@10"] - exact["R@10"]).toFixed(4)}`,
  );
}

/**
 * Where to put the embedding's good-match threshold (EMBEDDING_MIN_SCORE in
 * src/search/rankers/embedding.ts): the search score of each Flickr8k val caption against its own
 * photo and against every other photo, from the shipped joint embedding.
 *
 *   npx tsx bench/search-thresholds.ts [--count 200] [--flickr8k DIR] [--embedding-model DIR]
 *
 * "Other photo" pairs include some that the caption fits too (Flickr8k has many dogs), so the share
 * of them above a threshold overstates how often a truly unrelated photo would count as good.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { packageRoot } from "../src/core/paths.js";
import { createEncoder } from "../src/encoders/registry.js";
import { preprocessBatch } from "../src/image/preprocess.js";
import { embeddingSimilarity } from "../src/search/embedding/similarity.js";
import { DEFAULT_EMBEDDING_DIR, loadEmbeddingWithId } from "../src/search/models.js";
import { EMBEDDING_MIN_SCORE } from "../src/search/rankers/embedding.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "200" },
    flickr8k: { type: "string" },
    "embedding-model": { type: "string", default: DEFAULT_EMBEDDING_DIR },
  },
});
const flickr = values.flickr8k ?? path.join(packageRoot(), "../shared/datasets/flickr8k");
if (!existsSync(path.join(flickr, "splits/val.txt"))) {
  console.log(`skipped: no Flickr8k at ${flickr}`);
  process.exit(0);
}
const names = readFileSync(path.join(flickr, "splits/val.txt"), "utf8")
  .split(/\s+/)
  .filter(Boolean)
  .slice(0, Number(values.count));
const captions = new Map<string, string[]>(names.map((n) => [n, []]));
for (const line of readFileSync(path.join(flickr, "captions.tsv"), "utf8").split("\n")) {
  const [image, , text] = line.split("\t");
  if (image && text) captions.get(image)?.push(text);
}

const { model } = await loadEmbeddingWithId(values["embedding-model"]);
const encoder = await createEncoder(model.config.encoder);
const pooled = new Float32Array(names.length * model.imageDim);
for (let start = 0; start < names.length; start += 16) {
  const batch = names.slice(start, start + 16).map((n) => path.join(flickr, "images", n));
  const { data, errors } = await preprocessBatch(batch, {
    size: encoder.inputSize,
    normalization: encoder.normalization,
  });
  if (errors.some(Boolean)) throw errors.find(Boolean);
  pooled.set((await encoder.encode(data, batch.length)).pooled, start * model.imageDim);
}
encoder.dispose();

const queries = names.flatMap((n) => captions.get(n)!);
const owner = names.flatMap((n, i) => captions.get(n)!.map(() => i));
const sim = embeddingSimilarity(model, pooled, queries);
const n = names.length;
const own: number[] = [];
const other: number[] = [];
const best: number[] = [];
queries.forEach((_, q) => {
  let top = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const s = sim[q * n + i]!;
    (i === owner[q] ? own : other).push(s);
    top = Math.max(top, s);
  }
  best.push(top);
});
own.sort((a, b) => a - b);
other.sort((a, b) => a - b);
const at = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const above = (xs: number[], t: number) => xs.filter((x) => x >= t).length / xs.length;

console.log(`${queries.length} val captions x ${n} photos, ${path.basename(values["embedding-model"])}`);
console.log(
  `own photo:    p10 ${at(own, 0.1).toFixed(3)}  p25 ${at(own, 0.25).toFixed(3)}  median ${at(own, 0.5).toFixed(3)}`,
);
console.log(
  `other photos: median ${at(other, 0.5).toFixed(3)}  p90 ${at(other, 0.9).toFixed(3)}  p99 ${at(other, 0.99).toFixed(3)}`,
);
console.log("| threshold | own photo at or above | other photos at or above | queries whose best is below |");
console.log("| --- | --- | --- | --- |");
for (const t of [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]) {
  const mark = Math.abs(t - EMBEDDING_MIN_SCORE) < 1e-9 ? " (current)" : "";
  console.log(
    `| ${t.toFixed(2)}${mark} | ${(100 * above(own, t)).toFixed(1)}% | ${(100 * above(other, t)).toFixed(2)}% | ${(100 * (1 - above(best, t))).toFixed(1)}% |`,
  );
}

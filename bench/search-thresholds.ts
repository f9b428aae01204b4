import path from "node:path";
import { parseArgs } from "node:util";
import { embeddingSimilarity } from "../src/search/embedding/similarity.js";
import { DEFAULT_EMBEDDING_DIR, loadEmbeddingWithId } from "../src/search/models.js";
import { EMBEDDING_MIN_SCORE } from "../src/search/rankers/embedding.js";
import { embeddingInputs, flickr8kDir, readFlickr8kVal } from "./flickr8k-val.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "200" },
    flickr8k: { type: "string" },
    "embedding-model": { type: "string", default: DEFAULT_EMBEDDING_DIR },
  },
});
const flickr = flickr8kDir(values.flickr8k);
const val = readFlickr8kVal(flickr, Number(values.count));
if (!val) {
  console.log(`skipped: no Flickr8k at ${flickr}`);
  process.exit(0);
}
const { names, captions } = val;
const { model } = await loadEmbeddingWithId(values["embedding-model"]);
const pooled = await embeddingInputs(model, flickr, names);

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

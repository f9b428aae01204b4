/**
 * Where generative search's good-match threshold (GENERATIVE_MIN_SCORE) falls on Flickr8k val: the
 * scorer search uses (the caption model's `searchScorer` member) scores the first caption of each of
 * --count val photos against every one of those photos; prints how many own photos and how many other
 * photos clear each threshold.
 *
 *   npx tsx bench/generative-thresholds.ts --features DIR [--count 200] [--model models/default] [--flickr8k DIR]
 *
 * --features: a feature cache holding the caption model's encoder for the val split (`captionkit
 * features --split val --encoder centernet_448_block12_grid14 --out DIR`).
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { defaultModelDir } from "../src/core/paths.js";
import { loadCaptionScorer } from "../src/search/caption-model.js";
import { featuresFromCache } from "../src/search/embedding/cached-pairs.js";
import { GENERATIVE_MIN_SCORE } from "../src/search/rankers/generative.js";
import { flickr8kDir, readFlickr8kVal } from "./flickr8k-val.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "200" },
    flickr8k: { type: "string" },
    model: { type: "string", default: defaultModelDir() },
    features: { type: "string" },
  },
});
if (!values.features) throw new Error("--features DIR is required (see the header)");
const flickr = flickr8kDir(values.flickr8k);
const val = readFlickr8kVal(flickr, Number(values.count));
if (!val) {
  console.log(`skipped: no Flickr8k at ${flickr}`);
  process.exit(0);
}
const { names, captions } = val;
const scorer = await loadCaptionScorer(values.model);
const features = featuresFromCache(values.features, scorer.encoder, names);
const own: number[] = [];
const other: number[] = [];
const best: number[] = [];
const started = Date.now();
for (const [q, name] of names.entries()) {
  const scores = await scorer.score(captions.get(name)![0]!, features);
  scores.forEach((s, i) => {
    (i === q ? own : other).push(s);
  });
  best.push(Math.max(...scores));
}
scorer.dispose();
own.sort((a, b) => a - b);
other.sort((a, b) => a - b);
const at = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const above = (xs: number[], t: number) => xs.filter((x) => x >= t).length / xs.length;
console.log(
  `${names.length} val captions x ${names.length} photos, scorer of ${path.basename(values.model)}, ${((Date.now() - started) / 1000).toFixed(0)} s`,
);
console.log(
  `own photo:    p10 ${at(own, 0.1).toFixed(2)}  p25 ${at(own, 0.25).toFixed(2)}  median ${at(own, 0.5).toFixed(2)}`,
);
console.log(
  `other photos: median ${at(other, 0.5).toFixed(2)}  p90 ${at(other, 0.9).toFixed(2)}  p99 ${at(other, 0.99).toFixed(2)}`,
);
console.log("| threshold | own photo at or above | other photos at or above | queries whose best is below |");
console.log("| --- | --- | --- | --- |");
for (const t of [-5, -4.5, -4, -3.5, -3, -2.5, -2]) {
  const mark = t === GENERATIVE_MIN_SCORE ? " (current)" : "";
  console.log(
    `| ${t.toFixed(1)}${mark} | ${(100 * above(own, t)).toFixed(1)}% | ${(100 * above(other, t)).toFixed(2)}% | ${(100 * (1 - above(best, t))).toFixed(1)}% |`,
  );
}

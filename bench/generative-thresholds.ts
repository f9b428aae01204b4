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
import { flickr8kValOrSkip } from "./flickr8k-val.js";
import { printThresholdTable } from "./threshold-table.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "200" },
    flickr8k: { type: "string" },
    model: { type: "string", default: defaultModelDir() },
    features: { type: "string" },
  },
});
if (!values.features) throw new Error("--features DIR is required (see the header)");
const { names, captions } = flickr8kValOrSkip(values.flickr8k, Number(values.count));
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
console.log(
  `${names.length} val captions x ${names.length} photos, scorer of ${path.basename(values.model)}, ${((Date.now() - started) / 1000).toFixed(0)} s`,
);
printThresholdTable({ own, other, best }, [-5, -4.5, -4, -3.5, -3, -2.5, -2], GENERATIVE_MIN_SCORE, 2);

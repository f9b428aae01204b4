/**
 * The n-gram prior's prediction for one photo (the regression over its image vector), the part of the
 * re-ranking that grows with the prior's size: median and fastest of 200 calls on the default model's
 * prior (1,200 inputs x 1,416 outputs).
 *
 *   npx tsx bench/prior.ts [--model DIR]
 */
import { parseArgs } from "node:util";
import { defaultModelDir } from "../src/core/paths.js";
import { loadNgramPrior } from "../src/rerank/ngram-prior-io.js";

const { values } = parseArgs({ options: { model: { type: "string" } } });
const { prior } = await loadNgramPrior(values.model ?? defaultModelDir());
const raw = Float32Array.from({ length: prior.width }, (_, i) => Math.sin(i) * 0.5);
for (let i = 0; i < 10; i++) prior.predict(raw);
const times: number[] = [];
for (let i = 0; i < 200; i++) {
  const t = performance.now();
  prior.predict(raw);
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
console.log(
  `prior.predict, ${prior.width} inputs x ${prior.data.ngrams.length + 1} outputs: median ${times[100]!.toFixed(3)} ms, fastest ${times[0]!.toFixed(3)} ms`,
);

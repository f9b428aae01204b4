import path from "node:path";
import { parseArgs } from "node:util";
import { embeddingSimilarity } from "../src/search/embedding/similarity.js";
import { DEFAULT_EMBEDDING_DIR, loadEmbeddingWithId } from "../src/search/models.js";
import { EMBEDDING_MIN_SCORE } from "../src/search/rankers/embedding.js";
import { embeddingInputs, flickr8kValOrSkip } from "./flickr8k-val.js";
import { printThresholdTable } from "./threshold-table.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "200" },
    flickr8k: { type: "string" },
    "embedding-model": { type: "string", default: DEFAULT_EMBEDDING_DIR },
  },
});
const { flickr, names, captions } = flickr8kValOrSkip(values.flickr8k, Number(values.count));
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
console.log(`${queries.length} val captions x ${n} photos, ${path.basename(values["embedding-model"])}`);
printThresholdTable({ own, other, best }, [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4], EMBEDDING_MIN_SCORE, 3);

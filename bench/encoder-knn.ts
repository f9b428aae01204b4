/**
 * Encoder quality without training a decoder: nearest-neighbour consensus captioning, the retrieval
 * baseline of ../shared/DESIGN.md. For each val image, take the k train images with the most similar
 * pooled features (cosine after centring on the train mean), gather their captions, and output the
 * one with the highest mean CIDEr-D against the others (document frequencies from train). Scored with
 * the reference-exact metrics. Cheap (about a minute) and it ranks feature caches, which a short
 * from-scratch training run does not: at 150 steps decoders barely look at the image yet.
 *   npx tsx bench/encoder-knn.ts --features DIR[,DIR2] [--dataset ../shared/datasets/flickr8k/captions.tsv] [--k 30] [--val 1000]
 * Several comma-separated stores are joined as DESIGN.md does: each centred and L2-normalised, then
 * concatenated.
 */
import { parseArgs } from "node:util";
import { loadDataset, ptbTokenize } from "../src/data/index.js";
import { openFeatureStore } from "../src/features/index.js";
import { CiderReward } from "../src/metrics/cider-reward.js";
import { scoreCaptions } from "../src/metrics/index.js";

const { values: args } = parseArgs({
  options: {
    features: { type: "string" },
    dataset: { type: "string", default: "../shared/datasets/flickr8k/captions.tsv" },
    k: { type: "string", default: "30" },
    val: { type: "string", default: "1000" },
  },
});
if (!args.features) throw new Error("--features DIR[,DIR2] is required");
const k = Number(args.k);
const train = (await loadDataset(args.dataset, { split: "train" })).images;
const val = (await loadDataset(args.dataset, { split: "val" })).images.slice(0, Number(args.val));

/** Rows of centred, unit-length pooled vectors, one block per store, concatenated. */
function embed(ids: readonly string[], stores: ReturnType<typeof openFeatureStore>[], means: Float32Array[]) {
  return ids.map((id) => {
    const parts = stores.map((store, s) => {
      const pooled = store.readPooled(id);
      const v = pooled.map((x, i) => x - means[s]![i]!);
      const norm = Math.hypot(...v) || 1;
      return v.map((x) => x / norm);
    });
    const row = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      row.set(p, offset);
      offset += p.length;
    }
    return row;
  });
}

const stores = args.features.split(",").map((dir) => openFeatureStore(dir));
const means = stores.map((store) => {
  const mean = new Float32Array(store.pooledSize);
  for (const image of train) {
    const pooled = store.readPooled(image.id);
    for (let i = 0; i < mean.length; i++) mean[i]! += pooled[i]! / train.length;
  }
  return mean;
});
const trainRows = embed(
  train.map((image) => image.id),
  stores,
  means,
);
const valRows = embed(
  val.map((image) => image.id),
  stores,
  means,
);

const tokenized = new Map(train.map((image) => [image.id, image.captions.map((c) => ptbTokenize(c))]));
const reward = new CiderReward(tokenized);
const started = Date.now();
const candidates = new Map<string, string>();
for (let v = 0; v < val.length; v++) {
  const query = valRows[v]!;
  const similarity = trainRows.map((row, t) => {
    let dot = 0;
    for (let i = 0; i < row.length; i++) dot += row[i]! * query[i]!;
    return [dot, t] as const;
  });
  similarity.sort((a, b) => b[0] - a[0]);
  const neighbours = similarity.slice(0, k).map(([, t]) => train[t]!.id);
  // mean CIDEr-D of each gathered caption against the neighbours' captions (train document frequencies)
  let best = "";
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const words of neighbours.flatMap((id) => tokenized.get(id)!)) {
    let score = 0;
    for (const id of neighbours) score += reward.score(id, words);
    if (score > bestScore) [best, bestScore] = [words.join(" "), score];
  }
  candidates.set(val[v]!.id, best);
}
const references = new Map(val.map((image) => [image.id, image.captions]));
const report = await scoreCaptions(candidates, references, { metrics: ["bleu", "rouge", "cider"] });
const pick = (name: string) => (report.corpus as Record<string, number>)[name]!.toFixed(3);
console.log(
  `features ${args.features}, k ${k}, ${val.length} val images (${((Date.now() - started) / 1000).toFixed(0)} s)\n` +
    `BLEU-1 ${pick("BLEU-1")}  BLEU-4 ${pick("BLEU-4")}  ROUGE-L ${pick("ROUGE-L")}  CIDEr-D ${pick("CIDEr-D")}`,
);

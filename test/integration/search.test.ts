import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/load.js";
import { pairsFromFeatureCache } from "../../src/search/embedding/cached-pairs.js";
import { evaluateRetrievalSet } from "../../src/search/evaluate.js";
import { DEFAULT_EMBEDDING_DIR, loadEmbeddingWithId } from "../../src/search/models.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const spec = path.resolve(repoRoot, "../shared/datasets/flickr8k/captions.tsv");
// The feature cache lives outside the repository (see HELPERS.md); override with CAPTIONKIT_FEATURES.
const features = process.env.CAPTIONKIT_FEATURES ?? path.resolve(repoRoot, "../cache/features");
const reasons = [
  [existsSync(spec), `${spec} is not there`],
  [existsSync(features), `no feature cache at ${features}`],
  [
    existsSync(path.join(DEFAULT_EMBEDDING_DIR, "model.json")),
    `no joint-embedding model in ${DEFAULT_EMBEDDING_DIR}`,
  ],
] as const;
const missing = reasons.filter(([ok]) => !ok).map(([, why]) => why);
if (missing.length > 0) console.log(`skipping the Flickr8k retrieval test: ${missing.join("; ")}`);

describe.skipIf(missing.length > 0)("text-to-image retrieval on Flickr8k val (cached features)", () => {
  it("the shipped joint embedding reaches R@5 >= 0.30 and R@10 >= 0.43 over 1,000 images x 5,000 captions", async () => {
    const { model } = await loadEmbeddingWithId(DEFAULT_EMBEDDING_DIR);
    const val = await loadDataset(spec, { split: "val", checkImages: false });
    const pairs = pairsFromFeatureCache(features, model.config.encoder, val.images);
    const results = await evaluateRetrievalSet(pairs, { methods: ["embedding"], embedding: model });
    const t2i = results.embedding!.textToImage;
    console.log(`Flickr8k val text->image: ${JSON.stringify(t2i)}`);
    expect(t2i.queries).toBe(5000);
    expect(t2i["R@5"]).toBeGreaterThanOrEqual(0.3);
    expect(t2i["R@10"]).toBeGreaterThanOrEqual(0.43);
  });
});

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/load.js";
import { evaluateModel } from "../../src/evaluation/evaluate.js";
import { scoreCaptions } from "../../src/metrics/score.js";

/*
 * The shipped default model on Flickr8k val, encoded from the JPEGs (no feature cache), beam 3,
 * 5 references, as `captionkit caption` runs it (test-time mirroring and the n-gram prior). The
 * issue's targets (BLEU-4 >= 0.20, CIDEr-D >= 0.50) are defined on the whole val split, so the whole
 * split is captioned once (about 4.5 minutes on 2 cores) and checked against them. Its first 100
 * images are also scored on their own against what they measured, with and without the prior.
 */
const TARGETS = { bleu4: 0.2, ciderD: 0.5 };
const MEASURED_1000 = { bleu4: 0.2052, ciderD: 0.5122 }; // measured 2026-11-28, v8 (v7 + n-gram prior)
const MEASURED_100 = { bleu4: 0.1803, ciderD: 0.4488 }; // measured 2026-11-28, v8, from the run above
const MEASURED_100_NO_PRIOR = { bleu4: 0.17, ciderD: 0.419 }; // measured 2026-11-28 (v7)
const MARGIN = 0.02;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const flickr = path.resolve(repoRoot, "../shared/datasets/flickr8k");
const spec = path.join(flickr, "captions.tsv");
const modelDir = path.join(repoRoot, "models", "default");
const present = existsSync(spec) && existsSync(path.join(flickr, "images"));
const hasModel = existsSync(path.join(modelDir, "model.json"));
if (!present) console.log(`skipping the shipped-model test: ${spec} and its images/ are not there`);
else if (!hasModel) console.log(`skipping the shipped-model test: no model at ${modelDir}`);

const evaluateVal = (limit: number, prior = true) =>
  evaluateModel({
    modelDir,
    dataset: spec,
    split: "val",
    limit,
    beam: 3,
    metrics: ["bleu", "cider"],
    prior,
  });

const summary = (metrics: Record<string, number | undefined>) =>
  `BLEU-4 ${(metrics["BLEU-4"] as number).toFixed(4)}, CIDEr-D ${(metrics["CIDEr-D"] as number).toFixed(4)}`;

describe.skipIf(!present || !hasModel)("the shipped default model on Flickr8k val", () => {
  it("reaches the targets on the whole val split, and its measured level on the first 100 images", async () => {
    const result = await evaluateVal(0);
    console.log(
      `default model, 1,000 val images, beam 3: ${summary(result.metrics)} (targets ${TARGETS.bleu4} / ${TARGETS.ciderD})`,
    );
    expect(result.images).toBe(1000);
    expect(result.reranking).toBe("n-gram prior");
    expect(result.metrics["BLEU-4"]).toBeGreaterThanOrEqual(TARGETS.bleu4);
    expect(result.metrics["CIDEr-D"]).toBeGreaterThanOrEqual(TARGETS.ciderD);
    expect(result.metrics["CIDEr-D"]).toBeCloseTo(MEASURED_1000.ciderD, 2);

    // The first 100 images, scored on their own (document frequencies from their own references, as
    // an evaluation of just them does), with and without the prior.
    const dataset = await loadDataset(spec, { split: "val", checkImages: false });
    const first = dataset.images.slice(0, 100);
    const references = new Map(first.map((image) => [image.id, image.captions]));
    const withPrior = await scoreCaptions(
      new Map(first.map((image) => [image.id, result.captions.get(image.id) as string])),
      references,
      { metrics: ["bleu", "cider"] },
    );
    const without = await evaluateVal(100, false);
    console.log(
      `first 100 val images: ${summary(withPrior.corpus)}; without the prior: ${summary(without.metrics)}`,
    );
    expect(withPrior.corpus["BLEU-4"]).toBeGreaterThanOrEqual(MEASURED_100.bleu4 - MARGIN);
    expect(withPrior.corpus["CIDEr-D"]).toBeGreaterThanOrEqual(MEASURED_100.ciderD - MARGIN * 2);
    expect(without.metrics["BLEU-4"]).toBeGreaterThanOrEqual(MEASURED_100_NO_PRIOR.bleu4 - MARGIN);
    expect(without.metrics["CIDEr-D"]).toBeGreaterThanOrEqual(MEASURED_100_NO_PRIOR.ciderD - MARGIN * 2);
    expect(withPrior.corpus["CIDEr-D"]).toBeGreaterThan(without.metrics["CIDEr-D"] as number);
    const card = readFileSync(path.join(modelDir, "MODEL_CARD.md"), "utf8");
    expect(card).toContain("Hodosh");
  }, 900_000);
});

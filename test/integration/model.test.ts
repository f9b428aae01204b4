import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildCaptionMemory } from "../../src/generation/memory-build.js";
import { saveCaptionMemory } from "../../src/generation/memory-io.js";
import { evaluateModel } from "../../src/training/evaluate.js";

/*
 * The shipped default model on the first 100 Flickr8k val images, encoded from the JPEGs (no feature
 * cache), beam 3, 5 references. The targets are BLEU-4 >= 0.20 and CIDEr-D >= 0.50 on val. The
 * floors below are what the model measured on these 100 images minus a margin for scoring noise; where a
 * floor is below the target, MODEL_CARD.md states the shortfall. They are not raised to the targets: a
 * test that asserted numbers the model does not reach would only be switched off.
 */
const TARGETS = { bleu4: 0.2, ciderD: 0.5 };
const MEASURED_100 = { bleu4: 0.17, ciderD: 0.419 }; // measured 2026-11-28 on the shipped model (v7: v6 + mirroring)
/** With a caption memory of the first 1,000 train images (the full 6,000 take minutes to encode). */
const MEASURED_100_MEMORY_1000 = { bleu4: 0.1788, ciderD: 0.4383 }; // measured 2026-11-28, v7
const MARGIN = 0.02;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const flickr = path.resolve(repoRoot, "../shared/datasets/flickr8k");
const spec = path.join(flickr, "captions.tsv");
const modelDir = path.join(repoRoot, "models", "default");
const present = existsSync(spec) && existsSync(path.join(flickr, "images"));
const hasModel = existsSync(path.join(modelDir, "model.json"));
if (!present) console.log(`skipping the shipped-model test: ${spec} and its images/ are not there`);
else if (!hasModel) console.log(`skipping the shipped-model test: no model at ${modelDir}`);

/** The first 100 val images at beam 3, with or without a caption memory. */
const evaluate100 = (memoryDir?: string) =>
  evaluateModel({
    modelDir,
    dataset: spec,
    split: "val",
    limit: 100,
    beam: 3,
    metrics: ["bleu", "cider"],
    ...(memoryDir ? { memoryDir } : {}),
  });

describe.skipIf(!present || !hasModel)("the shipped default model on Flickr8k val", () => {
  // the plain run, shared by both tests (it takes about 30 s)
  let plainRun: ReturnType<typeof evaluate100> | undefined;
  const plain = () => {
    plainRun ??= evaluate100();
    return plainRun;
  };

  it("scores at its measured level on 100 val images (beam 3)", async () => {
    const result = await plain();
    const bleu4 = result.metrics["BLEU-4"] as number;
    const ciderD = result.metrics["CIDEr-D"] as number;
    console.log(
      `default model, 100 val images, beam 3: BLEU-4 ${bleu4.toFixed(3)}, CIDEr-D ${ciderD.toFixed(3)} ` +
        `(targets ${TARGETS.bleu4} / ${TARGETS.ciderD})`,
    );
    expect(result.images).toBe(100);
    expect(bleu4).toBeGreaterThanOrEqual(Math.min(TARGETS.bleu4, MEASURED_100.bleu4 - MARGIN));
    expect(ciderD).toBeGreaterThanOrEqual(Math.min(TARGETS.ciderD, MEASURED_100.ciderD - MARGIN * 2));
    const card = readFileSync(path.join(modelDir, "MODEL_CARD.md"), "utf8");
    expect(card).toContain("Hodosh");
  });

  it("scores higher with a caption memory built from train photos (consensus re-ranking)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "captionkit-itest-memory-"));
    try {
      const built = await buildCaptionMemory({ modelDir, dataset: spec, split: "train", limit: 1000 });
      await saveCaptionMemory(dir, built.data, built.save);
      const without = await plain();
      const reranked = await evaluate100(dir);
      const bleu4 = reranked.metrics["BLEU-4"] as number;
      const ciderD = reranked.metrics["CIDEr-D"] as number;
      console.log(
        `default model + memory of 1,000 train photos, 100 val images, beam 3: BLEU-4 ${bleu4.toFixed(3)}, CIDEr-D ${ciderD.toFixed(3)} ` +
          `(without: ${(without.metrics["BLEU-4"] as number).toFixed(3)} / ${(without.metrics["CIDEr-D"] as number).toFixed(3)})`,
      );
      expect(ciderD).toBeGreaterThan(without.metrics["CIDEr-D"] as number);
      expect(bleu4).toBeGreaterThanOrEqual(MEASURED_100_MEMORY_1000.bleu4 - MARGIN);
      expect(ciderD).toBeGreaterThanOrEqual(MEASURED_100_MEMORY_1000.ciderD - MARGIN * 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 600_000);
});

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/load.js";
import { datasetStats } from "../../src/data/stats.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const flickr = path.resolve(repoRoot, "../shared/datasets/flickr8k");
const spec = path.join(flickr, "captions.tsv");
const present = existsSync(spec) && existsSync(path.join(flickr, "images"));
if (!present)
  console.log(`skipping the Flickr8k dataset tests: ${spec} and its images/ folder are not there`);

describe.skipIf(!present)("Flickr8k from ../shared", () => {
  it("loads every image with all: 7,091 images, 35,455 captions, images under images/", async () => {
    const dataset = await loadDataset(spec, { split: "all" });
    expect(dataset.format).toBe("tsv");
    expect(dataset.imageRoot).toBe(path.join(flickr, "images"));
    expect(dataset.images).toHaveLength(7091);
    expect(dataset.images.reduce((sum, image) => sum + image.captions.length, 0)).toBe(35455);
    expect(dataset.splitNames).toEqual(["train", "val"]);
    expect(dataset.warnings).toEqual([]);
  });

  it("selects the official splits by name and by list file: 6,000 train, 1,000 val, disjoint", async () => {
    const train = await loadDataset(spec, { split: "train" });
    const val = await loadDataset(spec, { split: path.join(flickr, "splits", "val.txt") });
    expect(train.images).toHaveLength(6000);
    expect(val.images).toHaveLength(1000);
    const trainIds = new Set(train.images.map((image) => image.id));
    expect(val.images.filter((image) => trainIds.has(image.id))).toEqual([]);
    expect(train.images.every((image) => image.captions.length === 5 && image.split === "train")).toBe(true);
  });

  it("computes stats over the whole set", async () => {
    const stats = datasetStats(await loadDataset(spec), { minCount: 5 });
    expect(stats.splits).toEqual({ train: 6000, val: 1000, "(none)": 91 });
    expect(stats.captionLength.histogram.reduce((sum, bin) => sum + bin.count, 0)).toBe(35455);
    // Flickr8k captions are short: about 11 PTB tokens on average.
    expect(stats.captionLength.mean).toBeGreaterThan(9);
    expect(stats.captionLength.mean).toBeLessThan(13);
    expect(stats.vocabulary.size).toBeGreaterThan(2000);
  });
});

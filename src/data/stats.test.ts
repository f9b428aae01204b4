import { describe, expect, it } from "vitest";
import { datasetStats, percentile, summarizeLengths } from "./stats.js";
import type { CaptionDataset } from "./types.js";

describe("caption length summary", () => {
  it("uses nearest-rank percentiles", () => {
    const sorted = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(10);
    expect(percentile(sorted, 95)).toBe(19);
    expect(percentile(sorted, 100)).toBe(20);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 50)).toBe(0);
  });

  it("bins lengths by 5 tokens with an open last bin", () => {
    const summary = summarizeLengths([0, 5, 6, 10, 11, 30, 31, 80]);
    expect(summary.histogram).toEqual([
      { from: 0, to: 5, count: 2 },
      { from: 6, to: 10, count: 2 },
      { from: 11, to: 15, count: 1 },
      { from: 16, to: 20, count: 0 },
      { from: 21, to: 25, count: 0 },
      { from: 26, to: 30, count: 1 },
      { from: 31, to: null, count: 2 },
    ]);
    expect(summary).toMatchObject({ min: 0, max: 80, median: 10, p95: 80, mean: 21.63 });
  });
});

describe("datasetStats", () => {
  const dataset: CaptionDataset = {
    source: "/d/captions.tsv",
    format: "tsv",
    imageRoot: "/d/images",
    split: "all",
    splitNames: ["train", "val"],
    images: [
      { id: "a", path: "/d/images/a", captions: ["a dog runs", "a dog"], split: "train" },
      { id: "b", path: "/d/images/b", captions: ["a cat sits on a mat"], split: "val" },
      { id: "c", path: "/d/images/c", captions: ["a dog sits", "the dog", "a cat"] },
    ],
  };

  it("counts images, captions, splits, vocabulary and lengths", () => {
    const stats = datasetStats(dataset, { minCount: 2 });
    expect(stats).toMatchObject({
      images: 3,
      captions: 6,
      captionsPerImage: { min: 1, mean: 2, max: 3 },
      splits: { train: 1, val: 1, "(none)": 1 },
      captionLength: { min: 2, max: 6, median: 2, p95: 6, mean: 3 },
    });
    // a x6, dog x4, cat x2, sits x2 kept; runs, on, mat, the dropped: 14 of 18 tokens covered.
    expect(stats.vocabulary).toEqual({ minCount: 2, size: 8, distinctWords: 8, coverage: 0.7778 });
  });

  it("reports no split counts when the dataset has no splits", () => {
    const { splitNames: _unused, ...plain } = dataset;
    expect(datasetStats(plain).splits).toBeNull();
  });
});

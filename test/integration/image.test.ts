import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  augmentSeed,
  DEFAULT_AUGMENT_CONFIG,
  preprocessBatch,
  sampleAugmentParams,
} from "../../src/image/index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const flickr = path.resolve(repoRoot, "../shared/datasets/flickr8k");
const valList = path.join(flickr, "splits", "val.txt");
const present = existsSync(valList) && existsSync(path.join(flickr, "images"));
if (!present) console.log(`skipping the Flickr8k image tests: ${valList} and images/ are not there`);

const normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as {
  mean: [number, number, number];
  std: [number, number, number];
};

describe.skipIf(!present)("Flickr8k images from ../shared", () => {
  const files = present
    ? readFileSync(valList, "utf8")
        .split("\n")
        .filter(Boolean)
        .slice(0, 64)
        .map((name) => path.join(flickr, "images", name))
    : [];

  it("the first 64 val images decode under the default (strict) policy, plain and augmented", async () => {
    const plain = await preprocessBatch(files, { size: 224, normalization });
    expect(plain.errors.filter(Boolean)).toEqual([]);
    expect(plain.data.every(Number.isFinite)).toBe(true);
    // Real photos normalise to roughly zero mean, unit spread.
    let sum = 0;
    for (const v of plain.data) sum += v;
    expect(Math.abs(sum / plain.data.length)).toBeLessThan(1);
    const augment = files.map((f) =>
      sampleAugmentParams(DEFAULT_AUGMENT_CONFIG, augmentSeed(0, path.basename(f), 0)),
    );
    const augmented = await preprocessBatch(files, { size: 224, normalization, augment });
    expect(augmented.errors.filter(Boolean)).toEqual([]);
    expect(augmented.data).not.toEqual(plain.data);
  });
});

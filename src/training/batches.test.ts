import { beforeAll, describe, expect, it } from "vitest";
import type { FeatureReader } from "../features/types.js";
import { initBackend, tf } from "../tfjs/backend.js";
import { type CaptionExample, captionFeatures, disposeCaptionFeatures, epochBatches } from "./batches.js";
import { splitShards } from "./shards.js";

/** 7 images with 5 captions each (image i's captions have lengths 3..7), as buildExamples lays them out. */
const examples: CaptionExample[] = Array.from({ length: 35 }, (_, k) => ({
  image: Math.floor(k / 5),
  ids: Array<number>(3 + (k % 5)).fill(4),
}));

/** A reader whose features encode (image, view): grid value = 10 * image + view. */
const reader: FeatureReader = {
  encoder: "fake",
  gridShape: [1, 2, 1],
  pooledSize: 1,
  ids: ["a", "b", "c"],
  viewsOf: () => 2,
  read: (id, view = 0) => {
    const value = 10 * ["a", "b", "c"].indexOf(id) + view;
    return { grid: Float32Array.of(value, value), pooled: Float32Array.of(value) };
  },
  close: () => {},
};

describe("training batches", () => {
  beforeAll(async () => {
    await initBackend("wasm");
  });

  it("keeps each image's captions together with groupByImage, every caption once, fixed by seed", () => {
    const batches = epochBatches(examples, 10, 50, 3, 0, true);
    expect(batches.flat().sort((a, b) => a - b)).toEqual([...examples.keys()]);
    expect(batches.map((batch) => batch.length)).toEqual([10, 10, 10, 5]);
    // each batch of 10 holds exactly two whole images
    for (const batch of batches) {
      const images = new Set(batch.map((index) => examples[index]!.image));
      expect(images.size).toBe(batch.length / 5);
    }
    expect(epochBatches(examples, 10, 50, 3, 0, true)).toEqual(batches);
    expect(epochBatches(examples, 10, 50, 3, 1, true)).not.toEqual(batches);
    // without grouping, a batch of 10 mixes captions of more than two images
    const mixed = epochBatches(examples, 10, 1, 3, 0);
    expect(
      Math.max(...mixed.map((batch) => new Set(batch.map((i) => examples[i]!.image)).size)),
    ).toBeGreaterThan(2);
  });

  it("reads each (image, view) once and maps every caption to its row", () => {
    const features = captionFeatures(reader, ["b", "b", "a", "b", "a"], [0, 0, 0, 1, 0]);
    expect(Array.from(features.inputs.pooled.dataSync())).toEqual([10, 0, 11]);
    expect(Array.from(features.imageRows?.dataSync() ?? [])).toEqual([0, 0, 1, 2, 1]);
    disposeCaptionFeatures(features);
    const distinct = captionFeatures(reader, ["a", "c"]);
    expect(distinct.imageRows).toBeUndefined();
    expect(Array.from(distinct.inputs.grid.dataSync())).toEqual([0, 0, 20, 20]);
    disposeCaptionFeatures(distinct);
    expect(tf.memory().numTensors).toBe(0);
  });

  it("splits a batch into contiguous or interleaved shards", () => {
    const ids = ["a", "a", "a", "b", "b"];
    const captions = ids.map((_, i) => [i]);
    const views = ids.map(() => 0);
    const contiguous = splitShards(ids, views, captions, 2, 0, undefined, "contiguous");
    expect(contiguous.map((shard) => shard.ids)).toEqual([
      ["a", "a", "a"],
      ["b", "b"],
    ]);
    const interleaved = splitShards(ids, views, captions, 2, 0);
    expect(interleaved.map((shard) => shard.captions.flat())).toEqual([
      [0, 2, 4],
      [1, 3],
    ]);
  });
});

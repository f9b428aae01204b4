import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Encoder } from "../encoders/types.js";
import type { CaptionResult } from "../generation/types.js";
import type { FeatureCaptioner } from "./caption-model.js";
import { DefaultPipeline } from "./default-pipeline.js";
import { JointEmbedding } from "./embedding/model.js";
import { TextFeaturizer } from "./embedding/text-features.js";
import type { ImageFeatures } from "./pipeline.js";
import { COLOURS, tempDir, writeColourImage } from "./test-fixtures.js";

/** An encoder whose every grid value is `value` + region / 10 and pooled value is `value`. */
function fakeEncoder(name: string, channels: number, value: number, inputSize = 8): Encoder {
  return {
    name,
    inputSize,
    normalization: { mean: [0, 0, 0], std: [1, 1, 1] },
    gridShape: [2, 2, channels],
    pooledSize: channels,
    async encode(images, count) {
      if (images.length !== count * inputSize * inputSize * 3) throw new Error(`${name}: wrong input size`);
      const grid = new Float32Array(count * 4 * channels).map(
        (_, i) => value + (Math.floor(i / channels) % 4) / 10,
      );
      return { grid, pooled: new Float32Array(count * channels).fill(value), count };
    },
    dispose() {},
  };
}

/** A captioner that captions everything "A thing." and records the features it was given. */
function fakeCaptioner(dir: string, encoder: string, channels: number, seen: ImageFeatures[][] = []) {
  return {
    name: "fake",
    dir,
    encoder,
    shape: { regions: 4, featureDim: channels, pooledDim: channels },
    async caption(features: readonly ImageFeatures[]): Promise<CaptionResult[]> {
      seen.push([...features]);
      return features.map(() => ({ caption: "A thing.", confidence: 0.5, alternatives: [], tokens: [] }));
    },
    async score() {
      return [];
    },
    dispose() {},
  } satisfies FeatureCaptioner;
}

describe("DefaultPipeline", () => {
  it("runs each encoder part once and assembles joined features for the captioner and the embedding", async () => {
    const dir = await tempDir();
    await writeColourImage(path.join(dir, "red.png"), COLOURS.red!);
    const seen: ImageFeatures[][] = [];
    const captioner = fakeCaptioner(dir, "a+b", 3, seen);
    const model = JointEmbedding.init(
      { encoder: "a+b+c", imageParts: [1, 2, 4], imageHidden: [], wordDim: 2, textHidden: [], jointDim: 2 },
      new TextFeaturizer({ terms: ["thing"] }),
    );
    const created: string[] = [];
    const sizes: Record<string, [number, number]> = { a: [1, 1], b: [2, 2], c: [4, 3] };
    const pipeline = new DefaultPipeline(captioner, { model, id: "m@1", dir }, async (name) => {
      created.push(name);
      return fakeEncoder(name, sizes[name]![0], sizes[name]![1]);
    });
    const bytes = await readFile(path.join(dir, "red.png"));
    const [result, broken] = await pipeline.process([
      { path: "red.png", bytes },
      { path: "bad.png", bytes: new Uint8Array([1, 2, 3]) },
    ]);
    expect(created).toEqual(["a", "b", "c"]);
    expect(broken).toBeInstanceOf(Error);
    // the error names the file, not "<buffer>"
    expect((broken as Error).message).toMatch(/^bad\.png: not a recognised image format/);
    const processed = result as { caption: string; features: ImageFeatures[] };
    expect(processed.caption).toBe("A thing.");
    const [forCaption, forEmbedding] = processed.features;
    expect(forCaption!.encoder).toBe("a+b");
    expect([...forCaption!.pooled]).toEqual([1, 2, 2]);
    // region 1 of the joined grid: a's channel then b's two channels, each with its region offset
    expect([...forCaption!.grid!.subarray(3, 6)].map((v) => Math.round(v * 10) / 10)).toEqual([
      1.1, 2.1, 2.1,
    ]);
    expect(seen[0]).toHaveLength(1);
    expect(forEmbedding!.encoder).toBe("a+b+c");
    expect(forEmbedding!.grid).toBeUndefined();
    expect([...forEmbedding!.pooled]).toEqual([1, 2, 2, 3, 3, 3, 3]);
    expect(pipeline.embed(processed.features)).toHaveLength(model.searchDim);
  });

  it("decodes at each encoder's own input size when the caption and embedding encoders differ", async () => {
    const dir = await tempDir();
    await writeColourImage(path.join(dir, "red.png"), COLOURS.red!);
    const captioner = fakeCaptioner(dir, "big", 2);
    const model = JointEmbedding.init(
      { encoder: "small", imageParts: [1], imageHidden: [], wordDim: 2, textHidden: [], jointDim: 2 },
      new TextFeaturizer({ terms: ["thing"] }),
    );
    const pipeline = new DefaultPipeline(captioner, { model, id: "m@1", dir }, async (name) =>
      name === "big" ? fakeEncoder(name, 2, 5, 16) : fakeEncoder(name, 1, 7, 8),
    );
    const bytes = await readFile(path.join(dir, "red.png"));
    const [result] = await pipeline.process([{ path: "red.png", bytes }]);
    const processed = result as { caption: string; features: ImageFeatures[] };
    expect(processed.features.map((f) => [f.encoder, [...f.pooled]])).toEqual([
      ["big", [5, 5]],
      ["small", [7]],
    ]);
  });
});

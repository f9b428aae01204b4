import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type ImageCaptioner, loadCaptioner } from "../captioner/captioner.js";
import { Vocabulary } from "../data/vocabulary.js";
import { createDecoder } from "../decoders/factory.js";
import type { Encoder } from "../encoders/types.js";
import { saveModel } from "../model/single.js";
import { initBackend } from "../tfjs/backend.js";
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

/** A real image captioner: a tiny random decoder saved for `encoder`, fed by that fake encoder. */
async function tinyCaptioner(dir: string, encoder: Encoder, mirror = false): Promise<ImageCaptioner> {
  await initBackend("wasm");
  const [h, w, channels] = encoder.gridShape;
  const vocabulary = Vocabulary.build([["a", "thing", "red"]], { minCount: 1 });
  const decoder = createDecoder(
    { kind: "show-attend-tell", embedDim: 4, hiddenDim: 4, attentionDim: 4, dropout: 0 },
    { vocabSize: vocabulary.size, regions: h * w, featureDim: channels, pooledDim: encoder.pooledSize },
    3,
  );
  const modelDir = path.join(dir, `model-${encoder.name}`);
  await saveModel(modelDir, decoder, {
    name: "tiny",
    encoder: encoder.name,
    vocabulary: vocabulary.toJSON(),
    preprocessing: { size: encoder.inputSize, normalization: encoder.normalization, fit: "fill" },
  });
  decoder.dispose();
  return loadCaptioner({ modelDir, encoder, mirror });
}

describe("DefaultPipeline", () => {
  it("captions exactly as the image captioner does and runs each embedding encoder part once", async () => {
    const dir = await tempDir();
    await writeColourImage(path.join(dir, "red.png"), COLOURS.red!);
    const captioner = await tinyCaptioner(dir, fakeEncoder("cap", 3, 1), true);
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
    const [direct] = await captioner.caption([bytes], { beam: 3 });
    expect(processed.caption).toBe(direct!.caption);
    const [forCaption, forEmbedding] = processed.features;
    expect(forCaption!.encoder).toBe("cap");
    expect([...forCaption!.pooled]).toEqual([1, 1, 1]);
    // region 1 of the plain view's grid: every channel carries the region offset
    expect([...forCaption!.grid!.subarray(3, 6)].map((v) => Math.round(v * 10) / 10)).toEqual([
      1.1, 1.1, 1.1,
    ]);
    expect(forEmbedding!.encoder).toBe("a+b+c");
    expect(forEmbedding!.grid).toBeUndefined();
    expect([...forEmbedding!.pooled]).toEqual([1, 2, 2, 3, 3, 3, 3]);
    expect(pipeline.embed(processed.features)).toHaveLength(model.searchDim);
    pipeline.dispose();
  });

  it("decodes at each encoder's own input size when the caption and embedding encoders differ", async () => {
    const dir = await tempDir();
    await writeColourImage(path.join(dir, "red.png"), COLOURS.red!);
    const captioner = await tinyCaptioner(dir, fakeEncoder("big", 2, 5, 16));
    const model = JointEmbedding.init(
      { encoder: "small", imageParts: [1], imageHidden: [], wordDim: 2, textHidden: [], jointDim: 2 },
      new TextFeaturizer({ terms: ["thing"] }),
    );
    const pipeline = new DefaultPipeline(captioner, { model, id: "m@1", dir }, async (name) =>
      fakeEncoder(name, 1, 7, 8),
    );
    const bytes = await readFile(path.join(dir, "red.png"));
    const [result] = await pipeline.process([{ path: "red.png", bytes }]);
    const processed = result as { caption: string; features: ImageFeatures[] };
    expect(processed.features.map((f) => [f.encoder, [...f.pooled]])).toEqual([
      ["big", [5, 5]],
      ["small", [7]],
    ]);
    pipeline.dispose();
  });
});

import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultModelDir, packageRoot } from "../core/paths.js";
import { SPECIAL_TOKENS } from "../data/vocabulary.js";
import { createDecoder } from "../decoders/factory.js";
import type { DecoderConfig } from "../decoders/types.js";
import type { EncodedBatch, Encoder } from "../encoders/types.js";
import type { ModelMeta } from "../model/format.js";
import { saveModel } from "../model/single.js";
import { initBackend, tf } from "../tfjs/backend.js";
import { loadCaptioner } from "./captioner.js";

/** A fast stand-in encoder: 2x2 grid of region colour means, pooled = the whole-image mean. */
class StubEncoder implements Encoder {
  readonly name = "stub";
  readonly inputSize = 16;
  readonly normalization = {
    mean: [0.5, 0.5, 0.5] as [number, number, number],
    std: [0.5, 0.5, 0.5] as [number, number, number],
  };
  readonly gridShape = [2, 2, 3] as const;
  readonly pooledSize = 3;
  disposed = false;
  async encode(images: Float32Array, count: number): Promise<EncodedBatch> {
    const size = this.inputSize;
    const grid = new Float32Array(count * 4 * 3);
    const pooled = new Float32Array(count * 3);
    for (let n = 0; n < count; n++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const region = (y < size / 2 ? 0 : 2) + (x < size / 2 ? 0 : 1);
          for (let c = 0; c < 3; c++) {
            const v = images[((n * size + y) * size + x) * 3 + c] as number;
            grid[(n * 4 + region) * 3 + c] += v / ((size * size) / 4);
            pooled[n * 3 + c] += v / (size * size);
          }
        }
      }
    }
    return { grid, pooled, count };
  }
  dispose(): void {
    this.disposed = true;
  }
}

async function png(colour: [number, number, number], file: string): Promise<string> {
  await sharp({
    create: { width: 40, height: 30, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } },
  })
    .png()
    .toFile(file);
  return file;
}

const words = ["a", "red", "blue", "square", "circle", "on", "the", "left"];
const meta = (
  encoder: string,
  size: number,
  normalization: ModelMeta["preprocessing"]["normalization"],
): ModelMeta => ({
  name: "tiny-test",
  encoder,
  vocabulary: { tokens: [...SPECIAL_TOKENS, ...words], minCount: 1, maxLength: 8 },
  preprocessing: { size, normalization, fit: "fill" },
});

describe("loadCaptioner", () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend("wasm");
    dir = await mkdtemp(path.join(os.tmpdir(), "captionkit-captioner-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const configs: DecoderConfig[] = [
    { kind: "show-attend-tell", embedDim: 8, hiddenDim: 8, attentionDim: 6, dropout: 0.2 },
    {
      kind: "transformer",
      layers: 1,
      modelDim: 8,
      heads: 2,
      feedForwardDim: 16,
      dropout: 0.1,
      maxLength: 10,
    },
  ];

  it("reuses encoder inputs across batches without mixing them, also when batches overlap", async () => {
    const modelDir = path.join(dir, "reuse");
    const encoder = new StubEncoder();
    const decoder = createDecoder(configs[0]!, { vocabSize: 12, regions: 4, featureDim: 3, pooledDim: 3 }, 4);
    await saveModel(modelDir, decoder, meta("stub", 16, encoder.normalization));
    decoder.dispose();
    const red = await png([220, 30, 30], path.join(dir, "reuse-red.png"));
    const blue = await png([20, 40, 230], path.join(dir, "reuse-blue.png"));
    const captioner = await loadCaptioner({ modelDir, encoder, mirror: true });
    const pooledOf = async (image: string) => [...(await captioner.encodeViews([image], 2)).views[0]!.pooled];
    const firstRed = await pooledOf(red);
    const firstBlue = await pooledOf(blue);
    expect(firstBlue).not.toEqual(firstRed);
    expect(await pooledOf(red)).toEqual(firstRed); // the buffer blue was decoded into, reused
    const [red2, blue2] = await Promise.all([pooledOf(red), pooledOf(blue)]);
    expect(red2).toEqual(firstRed);
    expect(blue2).toEqual(firstBlue);
    captioner.dispose();
  });

  it.each(configs)("captions image files and bytes end to end ($kind, stub encoder)", async (config) => {
    const modelDir = path.join(dir, config.kind);
    const encoder = new StubEncoder();
    const decoder = createDecoder(config, { vocabSize: 12, regions: 4, featureDim: 3, pooledDim: 3 }, 4);
    await saveModel(modelDir, decoder, meta("stub", 16, encoder.normalization));
    decoder.dispose();
    const red = await png([220, 30, 30], path.join(dir, "red.png"));
    const blue = await png([20, 40, 230], path.join(dir, "blue.png"));
    const captioner = await loadCaptioner({ modelDir, encoder });
    expect(captioner.modelName).toBe("tiny-test");
    const before = tf.memory().numTensors;
    const results = await captioner.caption([red, await sharp(blue).toBuffer(), red], { beam: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r.caption).toMatch(/^[A-Z][a-z ]*\.$/);
      expect(r.confidence).toBeGreaterThan(0);
      expect(r.tokens.every((w) => words.includes(w))).toBe(true);
      if (config.kind === "show-attend-tell") expect(r.attentionGrid).toEqual([2, 2]);
    }
    expect(results[2]).toEqual(results[0]);
    // an unreadable image fails alone in captionSettled, and rejects caption()
    const broken = path.join(dir, "broken.jpg");
    await writeFile(broken, "not an image");
    const settled = await captioner.captionSettled([broken, red]);
    expect(settled[0]?.error?.message).toMatch(/broken\.jpg/);
    expect(settled[1]?.result?.caption).toBeTruthy();
    await expect(captioner.caption([broken])).rejects.toThrow(/broken\.jpg/);
    captioner.dispose();
    expect(encoder.disposed).toBe(false); // an injected encoder belongs to the caller
  });

  it("mirrors at test time: an image and its mirror image get one result", async () => {
    const modelDir = path.join(dir, "mirror");
    const encoder = new StubEncoder();
    const decoder = createDecoder(configs[1]!, { vocabSize: 12, regions: 4, featureDim: 3, pooledDim: 3 }, 5);
    await saveModel(modelDir, decoder, { ...meta("stub", 16, encoder.normalization), mirror: true });
    decoder.dispose();
    const halves = (left: [number, number, number], right: [number, number, number]) =>
      sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 0, g: 0, b: 0 } } })
        .composite([
          {
            input: {
              create: {
                width: 20,
                height: 30,
                channels: 3,
                background: { r: left[0], g: left[1], b: left[2] },
              },
            },
            left: 0,
            top: 0,
          },
          {
            input: {
              create: {
                width: 20,
                height: 30,
                channels: 3,
                background: { r: right[0], g: right[1], b: right[2] },
              },
            },
            left: 20,
            top: 0,
          },
        ])
        .png()
        .toBuffer();
    const redBlue = await halves([220, 30, 30], [20, 40, 230]);
    const blueRed = await halves([20, 40, 230], [220, 30, 30]);
    const mirrored = await loadCaptioner({ modelDir, encoder });
    expect(mirrored.mirror).toBe(true); // from model.json
    const before = tf.memory().numTensors;
    const [a, b] = await mirrored.caption([redBlue, blueRed]);
    expect(tf.memory().numTensors).toBe(before);
    expect(b!.caption).toBe(a!.caption);
    expect(b!.confidence).toBeCloseTo(a!.confidence, 4);
    const plain = await loadCaptioner({ modelDir, encoder, mirror: false });
    expect(plain.mirror).toBe(false);
    const [c, d] = await plain.caption([redBlue, blueRed]);
    expect(Math.abs(c!.confidence - d!.confidence)).toBeGreaterThan(1e-4);
    const settled = await mirrored.captionSettled([Buffer.from("not an image"), redBlue]);
    expect(settled[0]?.error).toBeDefined();
    expect(settled[1]?.result?.caption).toBe(a!.caption);
    mirrored.dispose();
    plain.dispose();
  });

  it("creates the encoder named in model.json through the registry (centernet_224)", async () => {
    const modelDir = path.join(dir, "centernet");
    const decoder = createDecoder(
      { kind: "show-attend-tell", embedDim: 8, hiddenDim: 8, attentionDim: 6, dropout: 0 },
      { vocabSize: 12, regions: 49, featureDim: 480, pooledDim: 480 },
      5,
    );
    await saveModel(
      modelDir,
      decoder,
      meta("centernet_224", 224, { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] }),
    );
    decoder.dispose();
    const captioner = await loadCaptioner({ modelDir });
    const [result] = await captioner.caption([await png([30, 160, 40], path.join(dir, "green.png"))], {
      beam: 3,
    });
    expect(result?.caption).toMatch(/^[A-Z].*\.$/);
    expect(result?.attention?.[0]).toHaveLength(49);
    expect(result?.attentionGrid).toEqual([7, 7]);
    captioner.dispose();
  });

  it("says what to do when there is no model or the encoder does not fit", async () => {
    await expect(loadCaptioner({ modelDir: path.join(dir, "empty") })).rejects.toThrow(
      /no model at .*--model/,
    );
    const wrong = path.join(dir, "wrong");
    const decoder = createDecoder(
      { kind: "show-attend-tell", embedDim: 4, hiddenDim: 4, attentionDim: 4, dropout: 0 },
      { vocabSize: 12, regions: 9, featureDim: 3, pooledDim: 3 },
      1,
    );
    await saveModel(wrong, decoder, meta("stub", 16, { mean: [0, 0, 0], std: [1, 1, 1] }));
    decoder.dispose();
    await expect(loadCaptioner({ modelDir: wrong, encoder: new StubEncoder() })).rejects.toThrow(
      /expects 9 regions/,
    );
  });

  it("resolves the default model folder inside the package", () => {
    expect(existsSync(path.join(packageRoot(), "package.json"))).toBe(true);
    expect(defaultModelDir()).toBe(path.join(packageRoot(), "models", "default"));
  });
});

import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { float16ToFloat32, float32ToFloat16 } from "../core/float16.js";
import { SPECIAL_TOKENS } from "../data/vocabulary.js";
import { createDecoder } from "../decoders/factory.js";
import type { DecoderConfig, DecoderShape } from "../decoders/types.js";
import { initBackend, tf } from "../tfjs/backend.js";
import type { ModelMeta } from "./format.js";
import { loadModel } from "./load.js";
import { readModelFile, saveModel } from "./single.js";

const shape: DecoderShape = { vocabSize: 10, regions: 4, featureDim: 6, pooledDim: 5 };
const meta: ModelMeta = {
  name: "tiny",
  encoder: "stub",
  vocabulary: {
    tokens: [...SPECIAL_TOKENS, "a", "dog", "runs", "on", "grass", "red"],
    minCount: 1,
    maxLength: 8,
  },
  preprocessing: { size: 32, normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }, fit: "fill" },
  metrics: { "CIDEr-D": 0.1 },
  training: { epochs: 1 },
};
const configs: DecoderConfig[] = [
  {
    kind: "show-attend-tell",
    embedDim: 4,
    hiddenDim: 6,
    attentionDim: 5,
    dropout: 0.5,
    featureBatchNorm: true,
  },
  { kind: "transformer", layers: 1, modelDim: 8, heads: 2, feedForwardDim: 12, dropout: 0.1 },
];

describe("float16", () => {
  it("round-trips exactly representable values and rounds others to the nearest half", () => {
    const values = Float32Array.from([0, -0, 1, -2.5, 65504, 1e-7, 6.1e-5, 0.1, 1 / 3, 70000, -Infinity]);
    const back = float16ToFloat32(float32ToFloat16(values));
    expect(Array.from(back.slice(0, 5))).toEqual([0, -0, 1, -2.5, 65504]);
    expect(back[5]).toBeCloseTo(1.19e-7, 9); // subnormal half
    expect(Math.abs((back[6] as number) - 6.1e-5)).toBeLessThan(6e-8);
    expect(Math.abs((back[7] as number) - 0.1)).toBeLessThan(0.1 * 2 ** -11);
    expect(Math.abs((back[8] as number) - 1 / 3)).toBeLessThan((1 / 3) * 2 ** -11);
    expect(back[9]).toBe(Infinity);
    expect(back[10]).toBe(-Infinity);
    expect(Number.isNaN(float16ToFloat32(float32ToFloat16(Float32Array.from([Number.NaN])))[0])).toBe(true);
  });
});

describe.each(configs)("saveModel / loadModel: $kind", (config) => {
  let dir: string;
  beforeAll(async () => {
    await initBackend("wasm");
    dir = await mkdtemp(path.join(os.tmpdir(), "captionkit-model-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(["float32", "float16"] as const)("round-trips weights and metadata (%s)", async (dtype) => {
    const decoder = createDecoder(config, shape, 9);
    if (config.kind === "show-attend-tell") {
      // move the batch-norm statistics away from their initial values so the test sees them saved
      const grid = tf.randomNormal([3, 4, 6], 2, 3) as tf.Tensor3D;
      const pooled = tf.randomNormal([3, 5]) as tf.Tensor2D;
      decoder.forward(
        { grid, pooled },
        tf.tensor2d([[1, 4, 5]], [1, 3], "int32").tile([3, 1]) as tf.Tensor2D,
        true,
      );
    }
    await writeFile(path.join(dir, "MODEL_CARD.md"), "# card\n");
    const file = await saveModel(dir, decoder, meta, { dtype });
    expect(file.weights.dtype).toBe(dtype);
    const loaded = await loadModel(dir);
    expect(loaded.meta.name).toBe("tiny");
    expect(loaded.vocabulary.size).toBe(10);
    expect(loaded.decoder.config).toEqual(decoder.config);
    expect(loaded.meta.metrics).toEqual({ "CIDEr-D": 0.1 });
    const all = (d: typeof decoder) => new Map([...d.variables, ...(d.buffers ?? [])]);
    const original = all(decoder);
    const restored = all(loaded.decoder);
    expect([...restored.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [name, variable] of original) {
      const a = variable.dataSync();
      const b = (restored.get(name) as tf.Variable).dataSync();
      for (let i = 0; i < a.length; i++) {
        const tolerance = dtype === "float32" ? 0 : Math.abs(a[i] as number) * 2 ** -11 + 1e-7;
        expect(Math.abs((a[i] as number) - (b[i] as number))).toBeLessThanOrEqual(tolerance);
      }
    }
    // saving leaves other files alone and no temporary files behind
    expect((await readdir(dir)).sort()).toEqual(["MODEL_CARD.md", "model.json", "weights.bin"]);
    decoder.dispose();
    loaded.decoder.dispose();
  });

  it("rejects a corrupted weights file and a foreign model.json with clear messages", async () => {
    const decoder = createDecoder(config, shape, 9);
    await saveModel(dir, decoder, meta);
    decoder.dispose();
    const weights = await readFile(path.join(dir, "weights.bin"));
    weights[10] = (weights[10] as number) ^ 0xff;
    await writeFile(path.join(dir, "weights.bin"), weights);
    await expect(loadModel(dir)).rejects.toThrow(/sha256/);
    const json = JSON.parse(await readFile(path.join(dir, "model.json"), "utf8"));
    await writeFile(path.join(dir, "model.json"), JSON.stringify({ ...json, extra: 1 }));
    await expect(readModelFile(dir)).rejects.toThrow(/not a captionkit model/);
    await expect(loadModel(path.join(dir, "nowhere"))).rejects.toThrow(/no model at/);
  });
});

import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../tfjs/backend.js";
import { applyWasmKernelFixes } from "../../tfjs/kernel-fixes.js";
import { EnsembleDecoder } from "../ensemble.js";
import { createDecoder } from "../factory.js";
import { TfjsRuntime } from "../tfjs-runtime.js";
import type { CaptionDecoder, DecoderConfig, DecoderShape } from "../types.js";
import { createOnnxRuntime, groupImages } from "./runtime.js";
import { expectParity, mirrored, randomBatch, randomizeWeights, testDigest } from "./test-utils/parity.js";

const transformer: DecoderConfig = {
  kind: "transformer",
  layers: 2,
  modelDim: 16,
  heads: 4,
  feedForwardDim: 24,
  dropout: 0.1,
  maxLength: 12,
};
const sat: DecoderConfig = {
  kind: "show-attend-tell",
  embedDim: 8,
  hiddenDim: 12,
  attentionDim: 9,
  dropout: 0.5,
  featureBatchNorm: true,
};
const satScalar: DecoderConfig = { ...sat, featureBatchNorm: false, gate: "scalar" };
const shape: DecoderShape = { vocabSize: 23, regions: 16, featureDim: 10, pooledDim: 7 };
const cacheShape: DecoderShape = { vocabSize: 23, regions: 196, featureDim: 120, pooledDim: 120 };

let cacheDir: string;
const made: CaptionDecoder[] = [];

function decoder(config: DecoderConfig, decoderShape: DecoderShape, seed: number): CaptionDecoder {
  const d = createDecoder(config, decoderShape, seed);
  randomizeWeights(d, seed + 100);
  made.push(d);
  return d;
}

async function check(label: string, d: CaptionDecoder, side: number, batchScale = 1) {
  const onnx = await createOnnxRuntime(d, { weightsDigest: testDigest(label), cacheDir });
  const tfjs = new TfjsRuntime(d);
  const batch = randomBatch(3, d.shape, 7, batchScale);
  expectParity(tfjs, onnx, [batch]);
  expectParity(tfjs, onnx, [batch, mirrored(batch, side)]);
  onnx.dispose();
}

describe("OnnxDecoderRuntime", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
    cacheDir = await mkdtemp(path.join(os.tmpdir(), "captionkit-onnx-"));
  });
  afterAll(async () => {
    for (const d of made) d.dispose();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it("matches tfjs for a transformer", () => check("transformer", decoder(transformer, shape, 1), 4));
  it("matches tfjs for Show-Attend-Tell with featureBatchNorm (and its attention)", () =>
    check("sat", decoder(sat, shape, 2), 4));
  it("matches tfjs for Show-Attend-Tell with a scalar gate and no pooled vector", () =>
    check("sat-scalar", decoder(satScalar, { ...shape, pooledDim: 0 }, 3), 4));

  it("matches tfjs for an ensemble of a transformer, a SAT and a coarser-grid member", () => {
    const members = [
      decoder(transformer, shape, 4),
      decoder(sat, { ...shape, featureDim: 5, pooledDim: 3 }, 5),
      decoder(transformer, { ...shape, regions: 4, featureDim: 6, pooledDim: 2 }, 6),
    ];
    return check("ensemble", new EnsembleDecoder(members), 4);
  });

  it("matches tfjs with a CenterNet tail before a transformer (neck, 2x2 means) and a SAT (expand)", async () => {
    const headed = decoder(
      { ...transformer, featureHead: { kind: "centernet-tail", gridPool: 2 } },
      cacheShape,
      7,
    );
    await check("headed-transformer", headed, 14, 2);
    const expand = decoder(
      { ...sat, featureHead: { kind: "centernet-tail", gridPool: 1, output: "expand" } },
      cacheShape,
      8,
    );
    await check("headed-sat", expand, 14, 2);
  });

  it("matches tfjs for an ensemble of two headed transformers, as the default model", () => {
    const members = [
      decoder({ ...transformer, featureHead: { kind: "centernet-tail", gridPool: 2 } }, cacheShape, 9),
      decoder(
        { ...transformer, featureHead: { kind: "centernet-tail", gridPool: 2, output: "expand" } },
        cacheShape,
        10,
      ),
    ];
    const ensemble = new EnsembleDecoder(members);
    return check("headed-ensemble", ensemble, 14, 2);
  });

  it("builds the graphs once and reads them from the cache afterwards", async () => {
    const d = decoder(transformer, shape, 11);
    const digest = testDigest("cache");
    const built: string[] = [];
    const first = await createOnnxRuntime(d, {
      weightsDigest: digest,
      cacheDir,
      onBuild: (f) => built.push(f),
    });
    const second = await createOnnxRuntime(d, {
      weightsDigest: digest,
      cacheDir,
      onBuild: (f) => built.push(f),
    });
    expect(first.built).toBe(true);
    expect(second.built).toBe(false);
    expect(built).toEqual([first.graphFolder]);
    expect(second.graphFolder).toBe(first.graphFolder);
    expect(first.graphFolder.startsWith(path.join(cacheDir, digest))).toBe(true);
    expect((await readdir(first.graphFolder)).sort()).toEqual(["start.onnx", "step.onnx"]);
    // a decoder known by its config alone finds the same graphs, and is loaded only to build them
    let loads = 0;
    const load = async () => {
      loads++;
      return createDecoder(transformer, shape, 11);
    };
    const known = await createOnnxRuntime(
      { members: [{ config: transformer, shape }], load },
      { weightsDigest: digest, cacheDir },
    );
    expect([known.built, known.graphFolder, loads]).toEqual([false, first.graphFolder, 0]);
    const fresh = await createOnnxRuntime(
      { members: [{ config: transformer, shape }], load },
      { weightsDigest: testDigest("cache-from-spec"), cacheDir },
    );
    expect([fresh.built, loads]).toEqual([true, 1]);
    // another config over the same weights gets its own graphs
    const other = decoder({ ...transformer, heads: 2 }, shape, 11);
    const third = await createOnnxRuntime(other, { weightsDigest: digest, cacheDir });
    expect(third.graphFolder).not.toBe(first.graphFolder);
    // a damaged cache entry is rebuilt
    await writeFile(path.join(first.graphFolder, "step.onnx"), "not a graph");
    const repaired = await createOnnxRuntime(d, { weightsDigest: digest, cacheDir });
    expect(repaired.built).toBe(true);
    const session = repaired.open([randomBatch(1, shape, 1)]);
    expect(session.step(session.start(Int32Array.of(0)), Int32Array.of(1)).logProbs.length).toBe(
      shape.vocabSize,
    );
    for (const r of [first, second, third, known, fresh, repaired]) r.dispose();
  });

  it("refuses a batch of the wrong size and a transformer past its positions", async () => {
    const d = decoder({ ...transformer, maxLength: 3 }, shape, 12);
    const onnx = await createOnnxRuntime(d, { weightsDigest: testDigest("limits"), cacheDir });
    expect(() => onnx.open([randomBatch(1, { ...shape, featureDim: 9 }, 1)])).toThrow(/channels/);
    const session = onnx.open([randomBatch(1, shape, 1)]);
    let state = session.start(Int32Array.of(0));
    for (let t = 0; t < 3; t++) state = session.step(state, Int32Array.of(4)).state;
    expect(() => session.step(state, Int32Array.of(4))).toThrow(/maxLength/);
    onnx.dispose();
  });
});

describe("groupImages", () => {
  it("finds the groups of consecutive rows that read one image", () => {
    const groups = (image: number[]) => [...groupImages(Int32Array.from(image))];
    expect(groups([0, 0, 0, 1, 1, 1])).toEqual([0, 1]); // beams
    expect(groups([4, 4, 2, 2, 7, 7])).toEqual([4, 2, 7]); // beams of the images still running
    expect(groups([0, 0, 0, 0, 1, 1])).toEqual([0, 0, 1]); // the largest k that fits every group
    expect(groups([0, 0, 1])).toEqual([0, 0, 1]); // uneven: one row per group
    expect(groups([3, 1, 2])).toEqual([3, 1, 2]);
  });
});

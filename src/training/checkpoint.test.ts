import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { SHAPES_GRID, shapesDataset, shapesTrainData } from "../../test/fixtures/shapes.js";
import { createDecoder } from "../decoders/factory.js";
import { initBackend } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import { type EpochRecord, loadCheckpoint, type ScstCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { mergeTrainConfig } from "./config.js";
import { Adam } from "./optimizer.js";
import { decodeWords } from "./run.js";
import { runScst } from "./scst.js";

const data = shapesTrainData(shapesDataset(12, 61, "t"), shapesDataset(4, 62, "v"));
const shape = {
  vocabSize: data.vocabulary.size,
  regions: 4,
  featureDim: SHAPES_GRID[2],
  pooledDim: SHAPES_GRID[2],
};
const config = mergeTrainConfig({
  checkpointEvery: 1,
  decoder: { kind: "transformer", layers: 1, modelDim: 16, heads: 2, feedForwardDim: 32, dropout: 0 },
  eval: { valImages: 4 },
  scst: { enabled: true, learningRate: 1e-3, batchSize: 4, samplesPerImage: 2, maxLength: 8, maxSteps: 3 },
});
const fresh = (seed: number) =>
  createDecoder(
    { ...config.decoder, kind: "transformer", maxLength: 22 } as Parameters<typeof createDecoder>[0],
    shape,
    seed,
  );
const record: EpochRecord = {
  stage: "scst",
  epoch: 0,
  step: 5,
  trainLoss: Number.NaN,
  valLoss: Number.NaN,
  bleu4: 0.25,
  ciderD: 0.5,
  learningRate: 1e-3,
  tokensPerSecond: 0,
  seconds: 2,
};
const scstState: Omit<ScstCheckpoint, "format" | "version" | "tensors"> = {
  stage: "scst",
  config,
  vocabulary: data.vocabulary.toJSON(),
  encoder: data.reader.encoder,
  shape,
  step: 7,
  optimizerStep: 7,
  epoch: 1,
  batchInEpoch: 2,
  rngState: 12345,
  dropoutCalls: 99,
  rewardSum: 3.5,
  rewardCount: 16,
  bestCiderD: 0.5,
  bestEpoch: 0,
  trainSeconds: 4.25,
  history: [record],
};

describe("checkpoints", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
  });

  it("round-trips an SCST checkpoint with its own fields, not the cross-entropy ones", () => {
    const decoder = fresh(1);
    const optimizer = new Adam(decoder.variables, config.optim);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "ck-ckpt-")), "scst-last.ckpt");
    saveCheckpoint(file, scstState, decoder.variables, optimizer.getState(), decoder.buffers);
    const { manifest, weights, optimizer: adam } = loadCheckpoint(file);
    const { tensors, ...rest } = manifest;
    expect(rest).toEqual({
      format: "captionkit-checkpoint",
      version: 2,
      ...scstState,
      history: [{ ...record, trainLoss: null, valLoss: null }],
    });
    for (const field of ["epochLossSum", "epochTokens", "bestScore", "tokensSeen", "epochSeconds"])
      expect(manifest).not.toHaveProperty(field);
    expect(tensors.length).toBeGreaterThan(0);
    for (const [name, variable] of decoder.variables)
      expect(Array.from(weights.get(name)!), name).toEqual(Array.from(variable.dataSync()));
    expect(adam.step).toBe(7);
    optimizer.dispose();
    decoder.dispose();
  });

  it("reads a version-1 SCST checkpoint, whose state sat in the cross-entropy fields, as SCST fields", () => {
    const decoder = fresh(1);
    const optimizer = new Adam(decoder.variables, config.optim);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "ck-ckpt-v1-")), "scst-last.ckpt");
    saveCheckpoint(file, scstState, decoder.variables, optimizer.getState(), decoder.buffers);
    const { rewardSum, rewardCount, bestCiderD, ...common } = readManifest(file);
    rewriteManifest(file, {
      ...common,
      version: 1,
      epochLossSum: rewardSum,
      epochTokens: rewardCount,
      bestScore: bestCiderD,
      epochsWithoutImprovement: 0,
      epochSeconds: 0,
      tokensSeen: 0,
    });
    const { manifest, weights } = loadCheckpoint(file);
    expect(manifest).toMatchObject({
      version: 2,
      stage: "scst",
      rewardSum: 3.5,
      rewardCount: 16,
      bestCiderD: 0.5,
      bestEpoch: 0,
    });
    expect(manifest).not.toHaveProperty("epochLossSum");
    expect(weights.size).toBe(decoder.variables.size + (decoder.buffers?.size ?? 0));

    rewriteManifest(file, { ...readManifest(file), version: 3 });
    expect(() => loadCheckpoint(file)).toThrow(/version 3 checkpoint: update captionkit/);
    optimizer.dispose();
    decoder.dispose();
  });

  it("runScst checkpoints the samples' rewards and the score to beat in SCST's fields", async () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), "ck-ckpt-scst-"));
    const lines: string[] = [];
    const decoder = fresh(3);
    const kill = (step: number) => {
      if (step === 2) throw new Error("killed");
    };
    await expect(
      runScst({
        config,
        data,
        decoder,
        outDir,
        decode: decodeWords,
        log: (line) => lines.push(line),
        onStep: kill,
      }),
    ).rejects.toThrow("killed");
    decoder.dispose();
    const { manifest } = loadCheckpoint(path.join(outDir, "scst-last.ckpt"));
    if (manifest.stage !== "scst") throw new Error(`expected an SCST checkpoint, got ${manifest.stage}`);
    // 2 steps of 4 images x 2 samples, rewards are CIDEr-D values (0..10)
    expect(manifest).toMatchObject({
      step: 2,
      optimizerStep: 2,
      epoch: 0,
      batchInEpoch: 2,
      rewardCount: 16,
      bestEpoch: -1,
    });
    expect(manifest.rewardSum).toBeGreaterThanOrEqual(0);
    expect(manifest.rewardSum).toBeLessThanOrEqual(10 * 16);
    expect(lines).toContain(`scst: val CIDEr-D before: ${manifest.bestCiderD.toFixed(4)}`);
  });
});

/** The JSON manifest of a checkpoint file as stored (before loadCheckpoint upgrades it). */
function readManifest(file: string): Record<string, unknown> {
  const bytes = readFileSync(file);
  const length = bytes.readUInt32LE(5);
  return JSON.parse(bytes.toString("utf8", 9, 9 + length)) as Record<string, unknown>;
}

/** Replaces a checkpoint's manifest, keeping its tensors (the float block stays 4-byte aligned). */
function rewriteManifest(file: string, manifest: Record<string, unknown>): void {
  const bytes = readFileSync(file);
  let dataStart = 9 + bytes.readUInt32LE(5);
  dataStart += (4 - (dataStart % 4)) % 4;
  const header = Buffer.from(JSON.stringify(manifest), "utf8");
  const prefix = Buffer.alloc(9);
  prefix.write("CKPT1", 0, "ascii");
  prefix.writeUInt32LE(header.length, 5);
  const pad = Buffer.alloc((4 - ((prefix.length + header.length) % 4)) % 4, 0x20);
  writeFileSync(file, Buffer.concat([prefix, header, pad, bytes.subarray(dataStart)]));
}

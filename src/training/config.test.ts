import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultTrainConfig, mergeTrainConfig, parseOverrides, readPreset } from "./config.js";

describe("training config", () => {
  it("fills every default", () => {
    const config = defaultTrainConfig();
    expect(config.optim.batchSize).toBe(64);
    expect(config.decoder.kind).toBe("transformer");
    expect(config.data.minCount).toBe(5);
    expect(config.scst.enabled).toBe(false);
  });

  it("merges defaults, then a YAML or JSON preset, then overrides", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ck-config-"));
    const yamlFile = path.join(dir, "preset.yaml");
    writeFileSync(
      yamlFile,
      "optim:\n  batchSize: 32\n  learningRate: 0.001\ndecoder:\n  kind: show-attend-tell\n  hiddenDim: 384\n",
    );
    const jsonFile = path.join(dir, "preset.json");
    writeFileSync(jsonFile, JSON.stringify({ optim: { batchSize: 16 } }));
    const config = mergeTrainConfig(readPreset(yamlFile), parseOverrides(["optim.batchSize=48", "--seed=7"]));
    expect(config.optim.batchSize).toBe(48);
    expect(config.optim.learningRate).toBe(0.001);
    expect(config.seed).toBe(7);
    expect(config.decoder).toMatchObject({
      kind: "show-attend-tell",
      hiddenDim: 384,
      embedDim: 512,
    });
    // the decoder config's one definition (decoders/config.ts) leaves these to the decoder, which
    // records the resolved value in its own config (and so in model.json)
    expect(config.decoder).not.toHaveProperty("gate");
    expect(mergeTrainConfig(readPreset(jsonFile)).optim.batchSize).toBe(16);
  });

  it("rejects unknown keys and wrong types with the key's path", () => {
    expect(() => mergeTrainConfig({ optim: { batchsize: 3 } })).toThrow(/optim/);
    expect(() => mergeTrainConfig(parseOverrides(["optim.batchSize=big"]))).toThrow(/optim\.batchSize/);
    expect(() => mergeTrainConfig({ decoder: { kind: "transformer", hiddenDim: 3 } })).toThrow(/decoder/);
    expect(() => parseOverrides(["nonsense"])).toThrow(/key=value/);
    expect(() => mergeTrainConfig({ decoder: { kind: "show-attend-tell", gate: "vector" } })).toThrow(/gate/);
    expect(() => mergeTrainConfig({ scst: { baseline: "best" } })).toThrow(/baseline/);
  });

  it("checks that heads divide the model width", () => {
    expect(() => mergeTrainConfig({ decoder: { kind: "transformer", modelDim: 100, heads: 3 } })).toThrow(
      /divisible/,
    );
  });
});

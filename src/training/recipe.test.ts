import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIZE, shapesDataset } from "../../test/fixtures/shapes.js";
import { packageRoot } from "../core/paths.js";
import { loadCaptionModel } from "../model/load.js";
import { PRIOR_FILE } from "../rerank/ngram-prior-io.js";
import { mergeTrainConfig, readPreset } from "./config.js";
import { prepareTrainData } from "./prepare.js";
import { checkRecipe, MARKER_FILE, type RecipeStep, runRecipe } from "./recipe.js";
import { DEFAULT_RECIPE } from "./recipe-default.js";

/** A transformer small enough that a few steps take a moment, validated on two val images. */
const TINY_PRESET = {
  seed: 3,
  workers: 1,
  logEvery: 1,
  checkpointEvery: 2,
  data: { minCount: 1, maxLength: 10 },
  decoder: { kind: "transformer", layers: 1, modelDim: 16, heads: 2, feedForwardDim: 32, dropout: 0.1 },
  optim: { batchSize: 4, epochs: 1, maxSteps: 3, warmupSteps: 1, learningRate: 0.003 },
  eval: { valImages: 2, valLossCaptions: 4, patience: 0 },
};

/** The default recipe's shape in miniature: weightless colour features, a plain and an augmented store. */
const MINI_RECIPE: RecipeStep[] = [
  { kind: "features", name: "features-plain", encoder: "colour_28" },
  { kind: "train", name: "first", preset: TINY_PRESET, features: ["features-plain"] },
  { kind: "features", name: "features-aug", encoder: "colour_28", augment: 1 },
  {
    kind: "train",
    name: "second",
    preset: TINY_PRESET,
    features: ["features-aug"],
    initFrom: "first",
    overrides: { data: { augmentedViews: true }, optim: { maxSteps: 4 } },
  },
  { kind: "ensemble", name: "ensemble", members: ["first", "second"], modelName: "mini", mirror: true },
  { kind: "memory", name: "memory", model: "ensemble" },
  { kind: "prior", name: "model", model: "ensemble", memory: "memory", minPhotos: 2 },
];

let root: string;
let dataset: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "captionkit-recipe-"));
  const lines: string[] = [];
  for (const [split, count, seed] of [
    ["train", 12, 1],
    ["val", 4, 2],
  ] as const) {
    for (const image of shapesDataset(count, seed, split)) {
      const file = path.join(root, `${image.id}.png`);
      await sharp(Buffer.from(image.pixels), { raw: { width: SIZE, height: SIZE, channels: 3 } })
        .png()
        .toFile(file);
      lines.push(JSON.stringify({ image: file, captions: image.captions, split }));
    }
  }
  dataset = path.join(root, "shapes.jsonl");
  await writeFile(dataset, `${lines.join("\n")}\n`);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe("runRecipe", () => {
  it("rejects a missing dataset before any step reports running or makes a folder", async () => {
    const out = path.join(root, "no-dataset");
    const lines: string[] = [];
    await expect(
      runRecipe(MINI_RECIPE, { dataset: path.join(root, "missing.tsv"), out, report: (l) => lines.push(l) }),
    ).rejects.toThrow(/missing\.tsv: dataset file not found/);
    expect(lines).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });

  it("runs every step, resumes an interrupted stage, then skips every finished step", async () => {
    const out = path.join(root, "run");
    const lines: string[] = [];
    const logs: string[] = [];
    const controller = new AbortController();
    const options = {
      dataset,
      out,
      extract: { workers: 0 },
      report: (line: string) => lines.push(line),
      log: (line: string) => {
        logs.push(line);
        // stop the second stage after its third step: the stop saves last.ckpt at step 3
        if (lines.at(-1)?.includes("second: running") && line.startsWith("step 3/")) controller.abort();
      },
    };
    await expect(runRecipe(MINI_RECIPE, { ...options, signal: controller.signal })).rejects.toThrow();
    expect(lines.filter((l) => l.includes("done in")).map((l) => l.split(" ")[1])).toEqual([
      "features-plain:",
      "first:",
      "features-aug:",
    ]);
    expect(existsSync(path.join(out, "second", "last.ckpt"))).toBe(true);
    expect(existsSync(path.join(out, "second", MARKER_FILE))).toBe(false);

    lines.length = 0;
    logs.length = 0;
    const resumed = await runRecipe(MINI_RECIPE, options);
    expect(resumed.steps.map((s) => `${s.name} ${s.status}`)).toEqual([
      "features-plain skipped",
      "first skipped",
      "features-aug skipped",
      "second done",
      "ensemble done",
      "memory done",
      "model done",
    ]);
    expect(lines[3]).toMatch(/^\[4\/7\] second: running \(continuing an interrupted run\)$/);
    expect(lines[4]).toMatch(/^\[4\/7\] second: done in \d+ s$/);
    expect(logs.some((l) => /resumed from .*last\.ckpt at step 3/.test(l))).toBe(true);
    const second = JSON.parse(readFileSync(path.join(out, "second", "model", "model.json"), "utf8"));
    expect(second.training.steps).toBe(4);
    expect(second.training.config.initFrom).toBe(path.join(out, "first", "best.ckpt"));
    expect(second.training.config.data.features).toMatch(/features-aug\/colour_28-28px-all-float16-aug1$/);

    // the finished model: the mirrored ensemble with the prior fitted to its weights
    expect(resumed.model).toBe(path.join(out, "model"));
    expect(existsSync(path.join(out, "model", PRIOR_FILE))).toBe(true);
    expect(existsSync(path.join(out, "model", MARKER_FILE))).toBe(true);
    expect(existsSync(path.join(out, "ensemble", PRIOR_FILE))).toBe(false);
    const file = JSON.parse(readFileSync(path.join(out, "model", "model.json"), "utf8"));
    expect(file).toMatchObject({ name: "mini", mirror: true, members: ["member-1", "member-2"] });
    // loading checks that the prior was fitted to these weights
    const model = await loadCaptionModel(resumed.model!, { runtime: "tfjs" });
    expect(model.info.name).toBe("mini");
    model.dispose();

    lines.length = 0;
    const again = await runRecipe(MINI_RECIPE, options);
    expect(again.steps.every((s) => s.status === "skipped")).toBe(true);
    expect(lines).toHaveLength(MINI_RECIPE.length);
    expect(lines.every((l) => /: skipped \(done, took \d+ s\)$/.test(l))).toBe(true);
    expect(again.model).toBe(resumed.model);

    // a step whose marker is gone runs again; the steps around it stay skipped
    await rm(path.join(out, "ensemble", MARKER_FILE));
    const redone = await runRecipe(MINI_RECIPE, options);
    expect(redone.steps.filter((s) => s.status === "done").map((s) => s.name)).toEqual(["ensemble"]);

    // a folder made from another dataset is not silently reused
    const other = path.join(root, "other.jsonl");
    await writeFile(other, readFileSync(dataset));
    await expect(runRecipe(MINI_RECIPE, { ...options, dataset: other })).rejects.toThrow(
      /another definition of step features-plain or from another dataset/,
    );
  }, 240_000);

  it("refuses a recipe whose steps read a step that is not before them", () => {
    expect(() => checkRecipe([MINI_RECIPE[1]!, MINI_RECIPE[0]!])).toThrow(
      /first reads "features-plain", which is not an earlier features step/,
    );
    expect(() => checkRecipe([MINI_RECIPE[0]!, MINI_RECIPE[0]!])).toThrow(/unique/);
  });
});

describe("the default recipe and the presets", () => {
  it("names presets that exist and parse, and reads each store and stage before it", () => {
    checkRecipe(DEFAULT_RECIPE);
    for (const step of DEFAULT_RECIPE) {
      if (step.kind !== "train" || typeof step.preset !== "string") continue;
      const config = mergeTrainConfig(readPreset(path.join(packageRoot(), step.preset)));
      expect(config.data.features, step.preset).toEqual([]);
    }
    expect(DEFAULT_RECIPE.map((s) => s.name).filter((n) => !n.startsWith("features-"))).toEqual([
      "stage1",
      "stage2",
      "stage3",
      "stage4",
      "stage5",
      "c448x",
      "member1",
      "member2",
      "ensemble",
      "memory",
      "model",
    ]);
  });

  it("no preset holds an absolute path (feature caches come from data.features=<dir>)", () => {
    const dir = path.join(packageRoot(), "configs");
    for (const name of readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
      const text = readFileSync(path.join(dir, name), "utf8");
      expect(text, name).not.toMatch(/(^|[\s:=])\/(work|home|tmp)\//m);
      const preset = readPreset(path.join(dir, name));
      expect(mergeTrainConfig(preset).data.features, name).toEqual([]);
    }
  });

  it("training without data.features says how to pass it", async () => {
    const config = mergeTrainConfig(
      readPreset(path.join(packageRoot(), "configs/flickr8k-transformer.yaml")),
    );
    await expect(prepareTrainData(config, () => Promise.reject(new Error("unused")))).rejects.toThrow(
      /pass data\.features=<dir>/,
    );
  });
});

import { existsSync } from "node:fs";
import { cp, rm } from "node:fs/promises";
import path from "node:path";
import type { ProgressFactory } from "../core/progress.js";
import { loadDataset } from "../data/load.js";
import type { EncoderRuntime } from "../encoders/registry.js";
import { extractFeatures } from "../features/extract.js";
import { saveEnsemble } from "../model/ensemble.js";
import { mergeTrainConfig, readPreset } from "./config.js";
import { writeCaptionMemory } from "./memory-build.js";
import { writeNgramPrior } from "./prior-build.js";
import { runTraining } from "./run.js";

/** Encodes every image of the dataset (split "all" by default) with one encoder into a feature store. */
export interface FeaturesStep {
  kind: "features";
  name: string;
  encoder: string;
  /** Stored augmented views besides the plain one (for `data.augmentedViews`). Default 0. */
  augment?: number;
  split?: string;
}

/**
 * Trains a decoder: the preset, then `overrides`, then what the recipe owns: `out`, `data.dataset`,
 * `data.images`, `data.features` (the stores of the named features steps, concatenated) and `initFrom`
 * (the named train step's best.ckpt; none: from scratch, whatever the preset says).
 */
export interface TrainStep {
  kind: "train";
  name: string;
  /** A preset file (relative: to the package root, e.g. configs/flickr8k-transformer.yaml) or the object. */
  preset: string | Record<string, unknown>;
  features: string[];
  initFrom?: string;
  overrides?: Record<string, unknown>;
}

/** Joins the models of train steps into an ensemble folder (`captionkit ensemble`). */
export interface EnsembleStep {
  kind: "ensemble";
  name: string;
  members: string[];
  /** model.json name (default: the step's name). */
  modelName?: string;
  /** Caption with the mirror image too by default (test-time mirroring). */
  mirror?: boolean;
  /** The member (index into `members`, from 0) that scores queries for generative search. */
  searchScorer?: number;
}

/** Builds a caption memory of a model from a split of the dataset, from the photos (`captionkit memory`). */
export interface MemoryStep {
  kind: "memory";
  name: string;
  /** A train or ensemble step. */
  model: string;
  split?: string;
}

/** Copies a model folder into <out>/<name>/ and fits its n-gram prior from a memory (`captionkit prior`). */
export interface PriorStep {
  kind: "prior";
  name: string;
  model: string;
  memory: string;
  minPhotos?: number;
  ridge?: number;
}

export type RecipeStep = FeaturesStep | TrainStep | EnsembleStep | MemoryStep | PriorStep;

/** Written last into a finished step's folder: its presence means the step is done. */
export const MARKER_FILE = "recipe-step.json";

/** What a finished step hands to the steps that read it (absolute paths). */
export interface StepOutputs {
  /** features: the store folder. */
  store?: string;
  /** train, ensemble, prior: the model folder. */
  model?: string;
  /** train: best.ckpt (full precision, what the next stage starts from). */
  checkpoint?: string;
  /** memory: the memory folder. */
  memory?: string;
}

export interface StepContext {
  dataset: string;
  images?: string;
  presetRoot: string;
  /** Outputs of the steps before this one, by name. */
  outputs: ReadonlyMap<string, StepOutputs>;
  log: (line: string) => void;
  progress?: ProgressFactory;
  signal?: AbortSignal;
  extract?: { runtime?: EncoderRuntime; workers?: number };
}

const abortCheck = (signal?: AbortSignal) => () => signal?.throwIfAborted();

function outputOf(context: StepContext, name: string): StepOutputs {
  const found = context.outputs.get(name);
  if (!found) throw new Error(`recipe: step ${name} has not run`);
  return found;
}

function modelOf(context: StepContext, name: string): string {
  const model = outputOf(context, name).model;
  if (!model) throw new Error(`recipe: step ${name} made no model`);
  return model;
}

/** Runs one step into `dir`; each kind resumes from what an interrupted run left in `dir`. */
export async function runStep(step: RecipeStep, dir: string, context: StepContext): Promise<StepOutputs> {
  const check = abortCheck(context.signal);
  switch (step.kind) {
    case "features": {
      const split = step.split ?? "all";
      const dataset = await loadDataset(context.dataset, {
        split,
        ...(context.images ? { images: context.images } : {}),
        onWarning: context.log,
      });
      const progress = context.progress?.(`features ${step.encoder}`, dataset.images.length, {
        unit: "images",
      });
      let shown = 0;
      const result = await extractFeatures({
        images: dataset.images.map((image) => ({ id: image.id, path: image.path })),
        encoder: step.encoder,
        out: dir,
        dataset: { source: dataset.source, split },
        augment: step.augment ?? 0,
        ...context.extract,
        ...(context.signal ? { signal: context.signal } : {}),
        onProgress: (done) => {
          progress?.increment(done - shown);
          shown = done;
        },
      });
      progress?.stop();
      for (const error of result.errors) context.log(`warning: skipped ${error.id}: ${error.message}`);
      return { store: result.dir };
    }
    case "train": {
      const preset =
        typeof step.preset === "string"
          ? readPreset(path.resolve(context.presetRoot, step.preset))
          : step.preset;
      const features = step.features.map((name) => {
        const store = outputOf(context, name).store;
        if (!store) throw new Error(`recipe: step ${name} made no feature store`);
        return store;
      });
      const from = step.initFrom ? outputOf(context, step.initFrom) : undefined;
      const config = mergeTrainConfig(preset, step.overrides ?? {}, {
        out: dir,
        initFrom: from ? (from.checkpoint ?? from.model) : undefined,
        data: {
          dataset: context.dataset,
          features: features.length === 1 ? features[0] : features,
          ...(context.images ? { images: context.images } : {}),
        },
      });
      const result = await runTraining(config, {
        outDir: dir,
        resume: existsSync(path.join(dir, "last.ckpt")),
        log: context.log,
        onStep: check,
        ...(context.progress ? { progress: context.progress } : {}),
      });
      result.decoder.dispose();
      const best = path.join(dir, "best.ckpt");
      return { model: result.modelDir, ...(existsSync(best) ? { checkpoint: best } : {}) };
    }
    case "ensemble": {
      await saveEnsemble(
        dir,
        step.members.map((name) => modelOf(context, name)),
        {
          name: step.modelName ?? step.name,
          ...(step.mirror ? { mirror: true } : {}),
          ...(step.searchScorer !== undefined ? { searchScorer: step.searchScorer } : {}),
        },
      );
      return { model: dir };
    }
    case "memory": {
      const progress = context.progress;
      let bar: ReturnType<ProgressFactory> | undefined;
      let shown = 0;
      const show = (done: number, total: number) => {
        bar ??= progress?.("memory", total, { unit: "images" });
        bar?.increment(done - shown);
        shown = done;
      };
      await writeCaptionMemory(dir, {
        modelDir: modelOf(context, step.model),
        dataset: context.dataset,
        split: step.split ?? "train",
        ...(context.images ? { images: context.images } : {}),
        onResume: show,
        onProgress: (done, total) => {
          show(done, total);
          check();
        },
      });
      bar?.stop();
      return { memory: dir };
    }
    case "prior": {
      // a fresh copy each time: a copy cut short by a kill is never mistaken for a model
      await rm(dir, { recursive: true, force: true });
      const source = modelOf(context, step.model);
      await cp(source, dir, {
        recursive: true,
        filter: (file) => path.basename(file) !== MARKER_FILE,
      });
      const memory = outputOf(context, step.memory).memory;
      if (!memory) throw new Error(`recipe: step ${step.memory} made no caption memory`);
      const written = await writeNgramPrior({
        memory,
        model: dir,
        ...(step.minPhotos ? { minPhotos: step.minPhotos } : {}),
        ...(step.ridge ? { ridge: step.ridge } : {}),
      });
      context.log(
        `n-gram prior for ${written.model}: ${written.ngrams} n-grams from ${written.photos} photos`,
      );
      return { model: dir };
    }
  }
}

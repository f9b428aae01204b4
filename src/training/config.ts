import { readFileSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { decoderConfigSchema } from "../decoders/config.js";
import type { DecoderConfig } from "../decoders/types.js";

/*
 * One typed training config. Every option has a default and a comment; `mergeTrainConfig` applies
 * defaults, then a preset file (JSON or YAML), then `key=value` overrides, and rejects unknown keys and
 * wrong types (strict objects everywhere).
 */

const dataSchema = z
  .object({
    /** Dataset spec (any format `loadDataset` reads); captions and splits come from here. */
    dataset: z.string().default(""),
    /** Folder of images when the dataset file's paths are relative to somewhere else. */
    images: z.string().optional(),
    /** Split names or split-list files. */
    trainSplit: z.string().default("train"),
    valSplit: z.string().default("val"),
    /**
     * Feature cache folder(s) written by `captionkit features`. Several folders are concatenated along
     * the channel axis (their encoder id becomes "a+b"). They must cover both splits.
     */
    features: z.union([z.string(), z.array(z.string()).min(1)]).default([]),
    /** Read feature caches that are still being extracted (only the images committed so far). */
    partialFeatures: z.boolean().default(false),
    /** Words seen fewer times in the train captions become <unk>. */
    minCount: z.number().int().positive().default(5),
    /** Longest caption in words; longer ones are truncated. */
    maxLength: z.number().int().positive().default(20),
    /** Sample one stored augmented view per image per epoch (view 0 = unaugmented is used when false). */
    augmentedViews: z.boolean().default(false),
    /** Use at most this many train images (0 = all); handy for quick comparisons. */
    trainLimit: z.number().int().min(0).default(0),
  })
  .strict();

const optimSchema = z
  .object({
    /** Captions per step. */
    batchSize: z.number().int().positive().default(64),
    /** Passes over the train captions (0 = no cross-entropy stage: SCST only, from initFrom). */
    epochs: z.number().int().min(0).default(10),
    /** Stop after this many optimizer steps in total (0 = no limit). */
    maxSteps: z.number().int().min(0).default(0),
    /** Peak Adam learning rate. */
    learningRate: z.number().positive().default(5e-4),
    /** Linear warm-up from 0 to the peak over this many steps. */
    warmupSteps: z.number().int().min(0).default(500),
    /** After warm-up: "cosine" to minLearningRate at the last step, "inverse-sqrt", or "constant". */
    decay: z.enum(["cosine", "inverse-sqrt", "constant"]).default("cosine"),
    /** Floor of the cosine decay, as a fraction of the peak. */
    minLearningRateRatio: z.number().min(0).max(1).default(0.05),
    beta1: z.number().min(0).max(1).default(0.9),
    beta2: z.number().min(0).max(1).default(0.999),
    epsilon: z.number().positive().default(1e-8),
    /** Clip gradients to this global L2 norm (0 = off). */
    clipNorm: z.number().min(0).default(5),
    /** Label smoothing of the cross-entropy target (0 = off). */
    labelSmoothing: z.number().min(0).max(0.5).default(0),
    /** Weight of the decoder's auxiliary loss (e.g. doubly stochastic attention). */
    auxLossWeight: z.number().min(0).default(1),
    /** Sort captions into length buckets of this many batches so padding stays small (1 = no bucketing). */
    bucketBatches: z.number().int().positive().default(50),
    /**
     * Keep each image's captions together in a batch (and a worker's shard), so a feature head runs once
     * per image, not once per caption: about 2x faster with decoder.featureHead. Turns bucketing off.
     */
    groupByImage: z.boolean().default(false),
  })
  .strict();

const evalSchema = z
  .object({
    /** Fixed val images captioned greedily after every epoch for BLEU-4 / CIDEr-D (0 = skip). */
    valImages: z.number().int().min(0).default(250),
    /** Val captions used for the validation loss (0 = all val captions). */
    valLossCaptions: z.number().int().min(0).default(2000),
    /** Stop when val CIDEr-D has not improved for this many epochs (0 = never). */
    patience: z.number().int().min(0).default(3),
    /** Longest generated caption during validation. */
    maxLength: z.number().int().positive().default(20),
  })
  .strict();

const scstSchema = z
  .object({
    /** Run self-critical sequence training after cross-entropy training. */
    enabled: z.boolean().default(false),
    epochs: z.number().int().positive().default(1),
    /** Stop SCST after this many steps (0 = no limit). */
    maxSteps: z.number().int().min(0).default(0),
    /** Images per SCST step. */
    batchSize: z.number().int().positive().default(32),
    /** Captions sampled per image. */
    samplesPerImage: z.number().int().positive().default(5),
    /**
     * Reward baseline: "mean" = mean reward of the image's other samples (Luo 2020, needs
     * samplesPerImage >= 2), "greedy" = reward of the greedy caption (Rennie et al. 2017).
     */
    baseline: z.enum(["mean", "greedy"]).default("mean"),
    learningRate: z.number().positive().default(2e-5),
    /** Longest sampled caption. */
    maxLength: z.number().int().positive().default(16),
  })
  .strict();

export const trainConfigSchema = z
  .object({
    /** Seeds batch order, initialisation and dropout; a run is reproducible from it. */
    seed: z.number().int().default(1),
    /** Output folder for checkpoints, log and curve (CLI --out overrides). */
    out: z.string().default("runs/train"),
    /** Start from the weights of this checkpoint (e.g. another run's best.ckpt) instead of random ones; the optimizer starts fresh. */
    initFrom: z.string().optional(),
    /**
     * With initFrom: take only the weights whose name and size match, e.g. to move a decoder to an
     * encoder with another feature size or grid (its input projections then start fresh, and the log
     * names them). Default false: any mismatch is an error.
     */
    initMatching: z.boolean().default(false),
    /**
     * With initMatching: the new encoder is the initFrom one with channels appended (e.g.
     * centernet_448 -> centernet_448+colour_448). The input projections keep their weights for the old
     * channels and start at zero for the new ones, so training starts from exactly the old model.
     */
    initAppendedFeatures: z.boolean().default(false),
    /** Data-parallel worker threads (1 = train in the main thread). */
    workers: z.number().int().positive().max(8).default(1),
    /** Print a progress line (step, loss, tokens/s) every this many steps to stderr (0 = never). */
    logEvery: z.number().int().min(0).default(50),
    /** Write a resumable checkpoint every this many steps (0 = only at epoch ends). */
    checkpointEvery: z.number().int().min(0).default(500),
    data: dataSchema.prefault({}),
    decoder: decoderConfigSchema.prefault({ kind: "transformer" }),
    optim: optimSchema.prefault({}),
    eval: evalSchema.prefault({}),
    scst: scstSchema.prefault({}),
  })
  .strict();

export type TrainConfig = z.infer<typeof trainConfigSchema>;
export type TrainDecoderConfig = z.infer<typeof decoderConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

/** The decoder config of a training config: maxLength comes from the data settings. */
export function decoderConfigOf(config: TrainConfig): DecoderConfig {
  const decoder: TrainDecoderConfig = config.decoder;
  if (decoder.kind === "transformer") return { ...decoder, maxLength: config.data.maxLength + 2 };
  return decoder;
}

type Plain = { [key: string]: unknown };

function isPlain(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep merge where later layers win; arrays and scalars are replaced, objects merged key by key. */
export function deepMerge(base: Plain, layer: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(layer)) {
    const previous = out[key];
    out[key] = isPlain(previous) && isPlain(value) ? deepMerge(previous, value) : value;
  }
  return out;
}

/** Reads a preset file: YAML (.yaml/.yml) or JSON. Relative paths are resolved against the caller's cwd. */
export function readPreset(file: string): Plain {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new Error(`cannot read training config ${file}: check the path`);
  }
  const ext = path.extname(file).toLowerCase();
  const parsed: unknown = ext === ".yaml" || ext === ".yml" ? YAML.parse(text) : JSON.parse(text);
  if (!isPlain(parsed)) throw new Error(`training config ${file} must be an object at the top level`);
  return parsed;
}

/**
 * Turns `a.b.c=value` strings into a nested object. Values are parsed as JSON when they can be (numbers,
 * booleans, arrays), otherwise kept as strings, so `--optim.learningRate=1e-3` is a number.
 */
export function parseOverrides(pairs: readonly string[]): Plain {
  let out: Plain = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`override "${pair}" must look like key=value (e.g. optim.batchSize=32)`);
    const keys = pair.slice(0, eq).replace(/^--/, "").split(".");
    const raw = pair.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let nested: unknown = value;
    for (let i = keys.length - 1; i >= 0; i--) nested = { [keys[i] as string]: nested };
    out = deepMerge(out, nested as Plain);
  }
  return out;
}

/** defaults -> preset -> overrides, validated. Throws a readable error listing every bad key. */
export function mergeTrainConfig(...layers: Plain[]): TrainConfig {
  const merged = layers.reduce<Plain>((acc, layer) => deepMerge(acc, layer), {});
  const result = trainConfigSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const where = issue.path.join(".") || "(top level)";
      return `${where}: ${issue.message}`;
    });
    throw new Error(`invalid training config:\n  ${problems.join("\n  ")}`);
  }
  const config = result.data;
  if (config.decoder.kind === "transformer" && config.decoder.modelDim % config.decoder.heads !== 0) {
    throw new Error("invalid training config: decoder.modelDim must be divisible by decoder.heads");
  }
  return config;
}

export function defaultTrainConfig(): TrainConfig {
  return mergeTrainConfig();
}

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { noProgress, type Progress, type ProgressFactory } from "../core/progress.js";
import { deriveSeed, Rng } from "../core/rng.js";
import type { Vocabulary } from "../data/vocabulary.js";
import type { CaptionDecoder, DecoderConfig, DecoderShape } from "../decoders/types.js";
import { buildExamples, type CaptionExample, type ImageCaptions } from "./batches.js";
import {
  assignMatchingWeights,
  assignWeights,
  type CrossEntropyCheckpoint,
  loadCheckpoint,
  loadInitWeights,
  saveCheckpoint,
} from "./checkpoint.js";
import { decoderConfigOf, type TrainConfig } from "./config.js";
import { Adam, type ScheduleOptions } from "./optimizer.js";
import { decoderShapeOf, type TrainData } from "./prepare.js";
import { dropoutCounter } from "./shards.js";
import type { DecodeWords } from "./validate.js";
import type { GradientWorkers } from "./workers.js";

/** What the loop needs from other stages; injected so tests and workers can swap them. */
export interface TrainerParts {
  createDecoder(config: DecoderConfig, shape: DecoderShape, seed: number): CaptionDecoder;
  decode: DecodeWords;
  /** Writes a servable model folder for the current weights (called when val CIDEr-D improves). */
  exportModel?: (dir: string, decoder: CaptionDecoder, info: ExportInfo) => Promise<void>;
}

export interface ExportInfo {
  vocabulary: Vocabulary;
  encoder: string;
  config: TrainConfig;
  metrics: Record<string, number>;
}

export interface TrainOptions {
  config: TrainConfig;
  data: TrainData;
  parts: TrainerParts;
  outDir: string;
  resume?: boolean;
  /** Called after every optimizer step (after any checkpoint). A throw here acts like a kill. */
  onStep?: (step: number, loss: number) => void;
  log?: (line: string) => void;
  /** Gradient workers for data parallelism (created by the caller when config.workers > 1). */
  workers?: GradientWorkers;
  /** Progress of the run (the CLI passes a terminal bar). Default: none. */
  progress?: ProgressFactory;
}

/** The loop state a cross-entropy checkpoint stores. */
export type CrossEntropyState = Omit<CrossEntropyCheckpoint, "format" | "version" | "tensors">;

/** What the data and the config fix for the whole run. */
export interface CrossEntropyPlan {
  /** Train captions (the batches index into them). */
  examples: CaptionExample[];
  /** Val images captioned for BLEU-4 / CIDEr-D, and val captions the val loss is taken on. */
  valImages: ImageCaptions[];
  valLossExamples: CaptionExample[];
  batchesPerEpoch: number;
  /** Steps of the run: all epochs', or fewer with optim.maxSteps. */
  totalSteps: number;
  schedule: ScheduleOptions;
  /** Target tokens in one epoch (the progress bar counts tokens). */
  tokensPerEpoch: number;
}

/** A cross-entropy run in progress: what the epoch and end-of-epoch parts share. */
export interface CrossEntropyRun {
  options: TrainOptions;
  log: (line: string) => void;
  files: { last: string; best: string; log: string };
  decoder: CaptionDecoder;
  optimizer: Adam;
  /** Stands in for Math.random during steps (dropout masks). */
  dropoutRng: Rng;
  state: CrossEntropyState;
  plan: CrossEntropyPlan;
  progress: Progress;
  /** Writes the state, weights and Adam moments to a checkpoint file. */
  save(file: string): void;
}

/**
 * Builds the decoder and optimizer and either resumes them from last.ckpt (weights, Adam state, RNG,
 * dropout counter, loop state) or starts fresh, from initFrom's weights when the config names them.
 */
export async function startCrossEntropy(options: TrainOptions): Promise<CrossEntropyRun> {
  const { config, data, parts, outDir } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  mkdirSync(outDir, { recursive: true });
  const files = {
    last: path.join(outDir, "last.ckpt"),
    best: path.join(outDir, "best.ckpt"),
    log: path.join(outDir, "log.jsonl"),
  };
  const shape = decoderShapeOf(data.reader, data.vocabulary);
  const decoder = parts.createDecoder(decoderConfigOf(config), shape, config.seed);
  const optimizer = new Adam(decoder.variables, config.optim);
  const dropoutRng = new Rng(deriveSeed(config.seed, 77));
  let state: CrossEntropyState = {
    config,
    vocabulary: data.vocabulary.toJSON(),
    encoder: data.reader.encoder,
    shape,
    step: 0,
    optimizerStep: 0,
    epoch: 0,
    batchInEpoch: 0,
    rngState: dropoutRng.state,
    epochLossSum: 0,
    epochTokens: 0,
    bestScore: Number.NEGATIVE_INFINITY,
    bestEpoch: -1,
    epochsWithoutImprovement: 0,
    trainSeconds: 0,
    epochSeconds: 0,
    tokensSeen: 0,
    history: [],
    stage: "xe",
  };
  // An SCST-only run (optim.epochs 0) has no cross-entropy checkpoint to resume: it starts from initFrom.
  const resumeCrossEntropy = options.resume === true && (config.optim.epochs > 0 || existsSync(files.last));
  if (resumeCrossEntropy) {
    if (!existsSync(files.last))
      throw new Error(`nothing to resume: ${files.last} does not exist (run without --resume to start)`);
    const loaded = loadCheckpoint(files.last);
    if (loaded.manifest.stage !== "xe")
      throw new Error(`${files.last} is a ${loaded.manifest.stage} checkpoint, not a cross-entropy one`);
    const { tensors: _tensors, format: _format, version: _version, ...saved } = loaded.manifest;
    assertSameRun(saved.config, config);
    assignWeights(decoder.variables, loaded.weights, decoder.buffers);
    optimizer.setState(loaded.optimizer);
    state = { ...saved, config };
    dropoutRng.state = state.rngState;
    if (state.dropoutCalls !== undefined) dropoutCounter(decoder).dropoutCalls = state.dropoutCalls;
    log(
      `resumed from ${files.last} at step ${state.step} (epoch ${state.epoch + 1}, batch ${state.batchInEpoch})`,
    );
  } else {
    if (existsSync(files.log) && !options.resume) writeFileSync(files.log, "");
    if (config.initFrom) await initialise(decoder, config.initFrom, config, log);
  }

  const plan = planOf(config, data);
  const progress = (options.progress ?? noProgress)(
    "train",
    Math.round((plan.tokensPerEpoch * plan.totalSteps) / plan.batchesPerEpoch),
    { unit: "tokens" },
  );
  progress.increment(Math.round((plan.tokensPerEpoch * state.step) / plan.batchesPerEpoch));
  const run: CrossEntropyRun = {
    options,
    log,
    files,
    decoder,
    optimizer,
    dropoutRng,
    state,
    plan,
    progress,
    save: (file) =>
      saveCheckpoint(
        file,
        {
          ...run.state,
          rngState: dropoutRng.state,
          optimizerStep: optimizer.step,
          dropoutCalls: dropoutCounter(decoder).dropoutCalls,
        },
        decoder.variables,
        optimizer.getState(),
        decoder.buffers,
      ),
  };
  return run;
}

/** Copies initFrom's weights into a fresh decoder (all of them, or those that fit with initMatching). */
async function initialise(
  decoder: CaptionDecoder,
  from: string,
  config: TrainConfig,
  log: (line: string) => void,
): Promise<void> {
  const weights = await loadInitWeights(from);
  if (!config.initMatching) {
    assignWeights(decoder.variables, weights, decoder.buffers);
    log(`initialised the decoder from ${from}`);
    return;
  }
  const { fresh, widened } = assignMatchingWeights(decoder.variables, weights, decoder.buffers, {
    appendedInputs: config.initAppendedFeatures,
  });
  log(
    `initialised the decoder from ${from}` +
      (widened.length > 0 ? `; zero rows added for the appended features: ${widened.join(", ")}` : "") +
      (fresh.length > 0
        ? `; not in it (kept as built: seeded, or a feature head's pretrained weights): ${fresh.join(", ")}`
        : ""),
  );
}

function planOf(config: TrainConfig, data: TrainData): CrossEntropyPlan {
  const examples = buildExamples(data.train, data.vocabulary);
  const valExamples = buildExamples(data.val, data.vocabulary);
  const batchesPerEpoch = Math.ceil(examples.length / config.optim.batchSize);
  const plannedSteps = config.optim.epochs * batchesPerEpoch;
  const totalSteps = config.optim.maxSteps > 0 ? Math.min(plannedSteps, config.optim.maxSteps) : plannedSteps;
  return {
    examples,
    valImages: data.val.slice(0, config.eval.valImages),
    valLossExamples:
      config.eval.valLossCaptions > 0 ? valExamples.slice(0, config.eval.valLossCaptions) : valExamples,
    batchesPerEpoch,
    totalSteps,
    schedule: { ...config.optim, totalSteps },
    tokensPerEpoch: examples.reduce((sum, example) => sum + example.ids.length - 1, 0),
  };
}

/** A resumed run must use the config it was started with (except where the output goes). */
function assertSameRun(saved: TrainConfig, current: TrainConfig): void {
  const strip = (config: TrainConfig) => JSON.stringify({ ...config, out: "" });
  if (strip(saved) !== strip(current)) {
    throw new Error(
      "--resume needs the same training config as the interrupted run (compare with last.ckpt's manifest)",
    );
  }
}

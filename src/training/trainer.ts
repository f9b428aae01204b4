import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { noProgress, type ProgressFactory } from "../core/progress.js";
import { deriveSeed, Rng, withSeededRandom } from "../core/rng.js";
import type { Vocabulary } from "../data/vocabulary.js";
import type { CaptionDecoder, DecoderConfig, DecoderShape } from "../decoders/types.js";
import type { FeatureReader } from "../features/types.js";
import { buildExamples, captionFeatures, epochBatches, type ImageCaptions, tokenBatch } from "./batches.js";
import {
  assignMatchingWeights,
  assignWeights,
  type CheckpointManifest,
  type EpochRecord,
  loadCheckpoint,
  loadInitWeights,
  saveCheckpoint,
} from "./checkpoint.js";
import type { TrainConfig, TrainDecoderConfig } from "./config.js";
import { curveSvg, writeCurvePng } from "./curve.js";
import { Adam, clipByGlobalNorm, learningRateAt } from "./optimizer.js";
import { computeGradients, disposeGradients, type Gradients } from "./step.js";
import type { DecodeWords } from "./validate.js";
import { scoreImages, validationLoss } from "./validate.js";
import type { GradientWorkers, Shard } from "./workers.js";

/** Features plus tokenized captions of the train and val splits, and the vocabulary built on train. */
export interface TrainData {
  vocabulary: Vocabulary;
  reader: FeatureReader;
  train: ImageCaptions[];
  val: ImageCaptions[];
}

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

export interface TrainResult {
  history: EpochRecord[];
  bestEpoch: number;
  bestScore: number;
  steps: number;
  tokensPerSecond: number;
  trainSeconds: number;
  /** The decoder with the best checkpoint's weights loaded (caller disposes). */
  decoder: CaptionDecoder;
}

/** The decoder config of a training config: maxLength comes from the data settings. */
export function decoderConfigOf(config: TrainConfig): DecoderConfig {
  const decoder: TrainDecoderConfig = config.decoder;
  if (decoder.kind === "transformer") return { ...decoder, maxLength: config.data.maxLength + 2 };
  return decoder;
}

export function decoderShapeOf(reader: FeatureReader, vocabulary: Vocabulary): DecoderShape {
  const [gridH, gridW, channels] = reader.gridShape;
  return {
    vocabSize: vocabulary.size,
    regions: gridH * gridW,
    featureDim: channels,
    pooledDim: reader.pooledSize,
  };
}

type LoopState = Omit<CheckpointManifest, "format" | "version" | "tensors">;

/** View index of an image in an epoch: a pure function of (seed, epoch, image), so resumes replay it. */
function viewOf(reader: FeatureReader, id: string, imageIndex: number, seed: number, epoch: number): number {
  const views = reader.viewsOf(id);
  if (views <= 1) return 0;
  return deriveSeed(deriveSeed(seed, 1000 + epoch), imageIndex) % views;
}

/**
 * Cross-entropy training with teacher forcing: bucketed batches, Adam with warm-up/decay, clipping,
 * per-epoch validation (loss, greedy BLEU-4 / CIDEr-D), JSONL log, curve, early stopping, atomic
 * resumable checkpoints (last.ckpt) and the best one (best.ckpt).
 */
export async function trainCrossEntropy(options: TrainOptions): Promise<TrainResult> {
  const { config, data, parts, outDir } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  mkdirSync(outDir, { recursive: true });
  const lastFile = path.join(outDir, "last.ckpt");
  const bestFile = path.join(outDir, "best.ckpt");
  const logFile = path.join(outDir, "log.jsonl");
  const shape = decoderShapeOf(data.reader, data.vocabulary);
  const decoder = parts.createDecoder(decoderConfigOf(config), shape, config.seed);
  const optimizer = new Adam(decoder.variables, config.optim);
  const dropoutRng = new Rng(deriveSeed(config.seed, 77));
  let state: LoopState = {
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
  const resumeCrossEntropy = options.resume === true && (config.optim.epochs > 0 || existsSync(lastFile));
  if (resumeCrossEntropy) {
    if (!existsSync(lastFile))
      throw new Error(`nothing to resume: ${lastFile} does not exist (run without --resume to start)`);
    const loaded = loadCheckpoint(lastFile);
    const { tensors: _tensors, format: _format, version: _version, ...saved } = loaded.manifest;
    assertSameRun(saved.config, config);
    assignWeights(decoder.variables, loaded.weights, decoder.buffers);
    optimizer.setState(loaded.optimizer);
    state = { ...saved, config };
    dropoutRng.state = state.rngState;
    if (state.dropoutCalls !== undefined) dropoutCounter(decoder).dropoutCalls = state.dropoutCalls;
    log(
      `resumed from ${lastFile} at step ${state.step} (epoch ${state.epoch + 1}, batch ${state.batchInEpoch})`,
    );
  } else {
    if (existsSync(logFile) && !options.resume) writeFileSync(logFile, "");
    if (config.initFrom) {
      const weights = await loadInitWeights(config.initFrom);
      if (config.initMatching) {
        const { fresh, widened } = assignMatchingWeights(decoder.variables, weights, decoder.buffers, {
          appendedInputs: config.initAppendedFeatures,
        });
        log(
          `initialised the decoder from ${config.initFrom}` +
            (widened.length > 0 ? `; zero rows added for the appended features: ${widened.join(", ")}` : "") +
            (fresh.length > 0
              ? `; not in it (kept as built: seeded, or a feature head's pretrained weights): ${fresh.join(", ")}`
              : ""),
        );
      } else {
        assignWeights(decoder.variables, weights, decoder.buffers);
        log(`initialised the decoder from ${config.initFrom}`);
      }
    }
  }

  const examples = buildExamples(data.train, data.vocabulary);
  const valImages = data.val.slice(0, config.eval.valImages);
  const valExamples = buildExamples(data.val, data.vocabulary);
  const valLossExamples =
    config.eval.valLossCaptions > 0 ? valExamples.slice(0, config.eval.valLossCaptions) : valExamples;
  const { batchSize } = config.optim;
  const batchesPerEpoch = Math.ceil(examples.length / batchSize);
  const plannedSteps = config.optim.epochs * batchesPerEpoch;
  const totalSteps = config.optim.maxSteps > 0 ? Math.min(plannedSteps, config.optim.maxSteps) : plannedSteps;
  const schedule = { ...config.optim, totalSteps };
  const tokensPerEpoch = examples.reduce((sum, example) => sum + example.ids.length - 1, 0);
  const progress = (options.progress ?? noProgress)(
    "train",
    Math.round((tokensPerEpoch * totalSteps) / batchesPerEpoch),
    {
      unit: "tokens",
    },
  );
  progress.increment(Math.round((tokensPerEpoch * state.step) / batchesPerEpoch));
  const save = (file: string) =>
    saveCheckpoint(
      file,
      {
        ...state,
        rngState: dropoutRng.state,
        optimizerStep: optimizer.step,
        dropoutCalls: dropoutCounter(decoder).dropoutCalls,
      },
      decoder.variables,
      optimizer.getState(),
      decoder.buffers,
    );

  let stop = state.step >= totalSteps;
  while (!stop && state.epoch < config.optim.epochs) {
    const batches = epochBatches(
      examples,
      batchSize,
      config.optim.bucketBatches,
      config.seed,
      state.epoch,
      config.optim.groupByImage,
    );
    let learningRate = 0;
    const epochStarted = Date.now();
    for (let b = state.batchInEpoch; b < batches.length; b++) {
      if (state.step >= totalSteps) break;
      const chosen = batches[b]!.map((index) => examples[index]!);
      const started = Date.now();
      learningRate = learningRateAt(state.step, schedule);
      const ids = chosen.map((example) => data.train[example.image]!.id);
      const views = chosen.map((example, i) =>
        config.data.augmentedViews
          ? viewOf(data.reader, ids[i]!, example.image, config.seed, state.epoch)
          : 0,
      );
      const local = (shard: Shard): Gradients =>
        withSeededRandom(dropoutRng, () => {
          if (options.workers) dropoutCounter(decoder).dropoutCalls = shard.dropoutCalls;
          return computeGradients(
            decoder,
            captionFeatures(data.reader, shard.ids, shard.views),
            tokenBatch(shard.captions),
            config.optim,
          );
        });
      const shards = splitShards(
        ids,
        views,
        chosen.map((example) => example.ids),
        options.workers?.threads ?? 1,
        state.step,
        undefined,
        config.optim.groupByImage ? "contiguous" : "interleaved",
      );
      const result: Gradients = options.workers
        ? await options.workers.gradients(decoder, shards, local)
        : local(shards[0]!);
      clipByGlobalNorm(result.grads, config.optim.clipNorm);
      optimizer.apply(result.grads, learningRate);
      disposeGradients(result.grads);
      if (!Number.isFinite(result.loss))
        throw new Error(
          `training diverged at step ${state.step} (loss ${result.loss}): lower optim.learningRate`,
        );
      state.step += 1;
      state.batchInEpoch = b + 1;
      state.epochLossSum += result.loss * result.tokens;
      state.epochTokens += result.tokens;
      const seconds = (Date.now() - started) / 1000;
      state.trainSeconds += seconds;
      state.epochSeconds += seconds;
      state.tokensSeen += result.tokens;
      progress.increment(result.tokens, {});
      if (config.checkpointEvery > 0 && state.step % config.checkpointEvery === 0) save(lastFile);
      if (config.logEvery > 0 && state.step % config.logEvery === 0) {
        log(
          `step ${state.step}/${totalSteps} epoch ${state.epoch + 1}: loss ${(state.epochLossSum / state.epochTokens).toFixed(4)}, ` +
            `lr ${learningRate.toExponential(2)}, ${(state.epochTokens / Math.max(state.epochSeconds, 1e-9)).toFixed(0)} tokens/s`,
        );
      }
      options.onStep?.(state.step, result.loss);
    }
    if (state.epochTokens === 0) break;
    const record = await endOfEpoch(learningRate, (Date.now() - epochStarted) / 1000);
    log(
      `epoch ${record.epoch + 1}: train loss ${record.trainLoss.toFixed(4)}, val loss ${record.valLoss.toFixed(4)}, ` +
        `BLEU-4 ${record.bleu4.toFixed(4)}, CIDEr-D ${record.ciderD.toFixed(4)}, ${record.tokensPerSecond.toFixed(0)} tokens/s`,
    );
    if (config.eval.patience > 0 && state.epochsWithoutImprovement >= config.eval.patience) {
      log(`early stop: no val CIDEr-D gain for ${config.eval.patience} epochs`);
      stop = true;
    }
    if (state.step >= totalSteps) stop = true;
  }
  progress.stop();

  async function endOfEpoch(learningRate: number, seconds: number): Promise<EpochRecord> {
    const valLoss = validationLoss(decoder, data.reader, data.val, valLossExamples, Math.max(batchSize, 64));
    const scores =
      valImages.length > 0
        ? scoreImages(decoder, data.reader, valImages, data.vocabulary, parts.decode, {
            beam: 1,
            maxLength: config.eval.maxLength,
            batchSize: 50,
          })
        : { bleu4: Number.NaN, ciderD: Number.NaN };
    const record: EpochRecord = {
      stage: "xe",
      epoch: state.epoch,
      step: state.step,
      trainLoss: state.epochLossSum / state.epochTokens,
      valLoss,
      bleu4: scores.bleu4,
      ciderD: scores.ciderD,
      learningRate,
      tokensPerSecond: state.epochTokens / Math.max(state.epochSeconds, 1e-9),
      seconds,
    };
    state.history.push(record);
    appendFileSync(logFile, `${JSON.stringify(record)}\n`);
    const score = Number.isFinite(record.ciderD) ? record.ciderD : -record.valLoss;
    state.epoch += 1;
    state.batchInEpoch = 0;
    state.epochLossSum = 0;
    state.epochTokens = 0;
    state.epochSeconds = 0;
    if (score > state.bestScore) {
      state.bestScore = score;
      state.bestEpoch = record.epoch;
      state.epochsWithoutImprovement = 0;
      save(bestFile);
      if (parts.exportModel) {
        await parts.exportModel(path.join(outDir, "best-model"), decoder, {
          vocabulary: data.vocabulary,
          encoder: data.reader.encoder,
          config,
          metrics: { valLoss, "BLEU-4": record.bleu4, "CIDEr-D": record.ciderD, epoch: record.epoch + 1 },
        });
      }
    } else {
      state.epochsWithoutImprovement += 1;
    }
    save(lastFile);
    writeFileSync(path.join(outDir, "curve.svg"), curveSvg(state.history));
    await writeCurvePng(state.history, path.join(outDir, "curve.png"));
    return record;
  }

  if (existsSync(bestFile))
    assignWeights(decoder.variables, loadCheckpoint(bestFile).weights, decoder.buffers);
  optimizer.dispose();
  return {
    history: state.history,
    bestEpoch: state.bestEpoch,
    bestScore: state.bestScore,
    steps: state.step,
    trainSeconds: state.trainSeconds,
    tokensPerSecond: state.tokensSeen / Math.max(state.trainSeconds, 1e-9),
    decoder,
  };
}

/**
 * The decoders draw each dropout seed from a per-instance call counter that the CaptionDecoder interface
 * does not expose. A resumed run builds a fresh decoder whose counter starts at 0, so without restoring
 * it the dropout masks (and the weights) would differ from the uninterrupted run.
 */
export function dropoutCounter(decoder: CaptionDecoder): { dropoutCalls?: number } {
  return decoder as unknown as { dropoutCalls?: number };
}

/**
 * Split of a batch over threads. "interleaved" balances length-sorted batches; "contiguous" keeps the
 * captions of one image (grouped batches, self-critical samples) in one shard, so its features are read
 * and its feature head run once. With several threads each shard gets a dropout counter derived from
 * the step, so replicas never reuse masks and a resumed run draws the same ones. `captionWeights`
 * (self-critical steps) are split alongside.
 */
export function splitShards(
  ids: readonly string[],
  views: readonly number[],
  captions: readonly number[][],
  threads: number,
  step: number,
  captionWeights?: readonly number[],
  layout: "interleaved" | "contiguous" = "interleaved",
): Shard[] {
  const count = Math.max(1, Math.min(threads, captions.length));
  const size = Math.ceil(captions.length / count);
  const inShard = (row: number, k: number) =>
    layout === "contiguous" ? Math.floor(row / size) === k : row % count === k;
  return Array.from({ length: count }, (_, k) => {
    const rows = [...captions.keys()].filter((row) => inShard(row, k));
    const shard: Shard = {
      ids: rows.map((row) => ids[row]!),
      views: rows.map((row) => views[row]!),
      captions: rows.map((row) => captions[row]!),
      dropoutCalls: (step * 8 + k) * 100_000,
    };
    if (captionWeights) shard.captionWeights = rows.map((row) => captionWeights[row]!);
    return shard;
  });
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

import { existsSync } from "node:fs";
import path from "node:path";
import { noProgress, type Progress, type ProgressFactory } from "../core/progress.js";
import { deriveSeed, Rng } from "../core/rng.js";
import type { CaptionDecoder } from "../decoders/types.js";
import { CiderReward } from "../metrics/cider-reward.js";
import {
  assignWeights,
  type EpochRecord,
  loadCheckpoint,
  type ScstCheckpoint,
  saveCheckpoint,
} from "./checkpoint.js";
import type { TrainConfig } from "./config.js";
import { Adam } from "./optimizer.js";
import { decoderShapeOf, type TrainData } from "./prepare.js";
import { dropoutCounter } from "./shards.js";
import { type CaptionScores, type DecodeWords, scoreImages } from "./validate.js";
import type { GradientWorkers } from "./workers.js";

export interface ScstOptions {
  config: TrainConfig;
  data: TrainData;
  decoder: CaptionDecoder;
  outDir: string;
  decode: DecodeWords;
  log: (line: string) => void;
  /** Continue from <outDir>/scst-last.ckpt when it exists. */
  resume?: boolean;
  /** Data-parallel gradient workers (the same ones cross-entropy training used). */
  workers?: GradientWorkers;
  /** Called after every step (after any checkpoint). A throw here acts like a kill. */
  onStep?: (step: number) => void;
  /** Progress of the run (the CLI passes a terminal bar). Default: none. */
  progress?: ProgressFactory;
}

export interface ScstResult {
  /** One record per SCST epoch (val BLEU-4 / CIDEr-D, greedy, the fixed subset). */
  history: EpochRecord[];
  /** The epoch whose weights the decoder now holds; undefined when the cross-entropy weights were kept. */
  kept?: EpochRecord;
}

/** The loop state an SCST checkpoint stores (the rest of its manifest is fixed by the run). */
export type ScstState = Pick<
  ScstCheckpoint,
  | "step"
  | "epoch"
  | "batchInEpoch"
  | "rewardSum"
  | "rewardCount"
  | "bestCiderD"
  | "bestEpoch"
  | "trainSeconds"
  | "history"
>;

/** An SCST run in progress: what its epochs share. */
export interface ScstRun {
  options: ScstOptions;
  files: { last: string; best: string; log: string };
  /** Sampled captions per image (the mean baseline needs 2 or more). */
  perImage: number;
  reward: CiderReward;
  optimizer: Adam;
  /** Samples the captions and stands in for Math.random during steps. */
  rng: Rng;
  state: ScstState;
  batchesPerEpoch: number;
  totalSteps: number;
  progress: Progress;
  /** Val BLEU-4 / CIDEr-D of the current weights (greedy, the fixed subset). */
  scoreVal(): CaptionScores;
  /** Writes the state, weights and Adam moments to a checkpoint file. */
  save(file: string): void;
}

/**
 * Sets up SCST on the cross-entropy decoder: resumes scst-last.ckpt, or scores the cross-entropy
 * weights as the ones to beat and keeps them in scst-best.ckpt.
 */
export function startScst(options: ScstOptions): ScstRun {
  const { config, data, decoder, log } = options;
  const scst = config.scst;
  const perImage = scst.baseline === "greedy" ? scst.samplesPerImage : Math.max(2, scst.samplesPerImage);
  if (scst.baseline === "mean" && scst.samplesPerImage < 2)
    log(`scst: the mean baseline needs 2 or more samples per image; using ${perImage}`);
  const files = {
    last: path.join(options.outDir, "scst-last.ckpt"),
    best: path.join(options.outDir, "scst-best.ckpt"),
    log: path.join(options.outDir, "log.jsonl"),
  };
  const valImages = data.val.slice(0, config.eval.valImages);
  const scoreVal = () =>
    scoreImages(decoder, data.reader, valImages, data.vocabulary, options.decode, {
      beam: 1,
      maxLength: config.eval.maxLength,
      batchSize: 50,
    });
  const reward = new CiderReward(new Map(data.train.map((image) => [image.id, image.captions])));
  const optimizer = new Adam(decoder.variables, config.optim);
  const rng = new Rng(deriveSeed(config.seed, 5150));
  const shape = decoderShapeOf(data.reader, data.vocabulary);
  const state: ScstState = {
    step: 0,
    epoch: 0,
    batchInEpoch: 0,
    rewardSum: 0,
    rewardCount: 0,
    bestCiderD: Number.NEGATIVE_INFINITY,
    bestEpoch: -1,
    trainSeconds: 0,
    history: [],
  };
  const save = (file: string) =>
    saveCheckpoint(
      file,
      {
        stage: "scst",
        config,
        vocabulary: data.vocabulary.toJSON(),
        encoder: data.reader.encoder,
        shape,
        ...state,
        optimizerStep: optimizer.step,
        rngState: rng.state,
        dropoutCalls: dropoutCounter(decoder).dropoutCalls,
      },
      decoder.variables,
      optimizer.getState(),
      decoder.buffers,
    );
  if (options.resume && existsSync(files.last)) {
    const loaded = loadCheckpoint(files.last);
    const saved = loaded.manifest;
    if (saved.stage !== "scst")
      throw new Error(`${files.last} is a ${saved.stage} checkpoint: delete it to restart SCST`);
    assignWeights(decoder.variables, loaded.weights, decoder.buffers);
    optimizer.setState(loaded.optimizer);
    rng.state = saved.rngState;
    if (saved.dropoutCalls !== undefined) dropoutCounter(decoder).dropoutCalls = saved.dropoutCalls;
    const {
      step,
      epoch,
      batchInEpoch,
      rewardSum,
      rewardCount,
      bestCiderD,
      bestEpoch,
      trainSeconds,
      history,
    } = saved;
    Object.assign(state, {
      step,
      epoch,
      batchInEpoch,
      rewardSum,
      rewardCount,
      bestCiderD,
      bestEpoch,
      trainSeconds,
      history,
    });
    log(`scst: resumed from ${files.last} at step ${state.step} (epoch ${state.epoch + 1})`);
  } else {
    // The cross-entropy model is the one to beat; it is "epoch -1" of this stage.
    state.bestCiderD = scoreVal().ciderD;
    save(files.best);
    log(`scst: val CIDEr-D before: ${state.bestCiderD.toFixed(4)}`);
  }

  const batchesPerEpoch = Math.ceil(data.train.length / scst.batchSize);
  const plannedSteps = scst.epochs * batchesPerEpoch;
  const totalSteps = scst.maxSteps > 0 ? Math.min(plannedSteps, scst.maxSteps) : plannedSteps;
  const progress = (options.progress ?? noProgress)("scst", totalSteps * scst.batchSize * perImage, {
    unit: "samples",
  });
  progress.increment(state.step * scst.batchSize * perImage);
  return {
    options,
    files,
    perImage,
    reward,
    optimizer,
    rng,
    state,
    batchesPerEpoch,
    totalSteps,
    progress,
    scoreVal,
    save,
  };
}

/** Loads the best weights (an SCST epoch's, or the cross-entropy ones) and frees the optimizer. */
export function finishScst(run: ScstRun): ScstResult {
  const { decoder, log } = run.options;
  const { state } = run;
  run.progress.stop();
  run.optimizer.dispose();
  assignWeights(decoder.variables, loadCheckpoint(run.files.best).weights, decoder.buffers);
  log(
    state.bestEpoch >= 0
      ? `scst: keeping epoch ${state.bestEpoch + 1} (val CIDEr-D ${state.bestCiderD.toFixed(4)})`
      : "scst: no epoch beat the cross-entropy model; keeping its weights",
  );
  return { history: state.history, kept: state.history.find((record) => record.epoch === state.bestEpoch) };
}

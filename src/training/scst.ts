import { appendFileSync, existsSync } from "node:fs";
import path from "node:path";
import { noProgress, type ProgressFactory } from "../core/progress.js";
import { deriveSeed, Rng, withSeededRandom } from "../core/rng.js";
import { START_ID } from "../data/vocabulary.js";
import { TfjsRuntime } from "../decoders/tfjs-runtime.js";
import type { CaptionDecoder } from "../decoders/types.js";
import { readFeatureBatch } from "../features/batch.js";
import { sampleCaptions } from "../generation/sample.js";
import { CiderReward } from "../metrics/cider-reward.js";
import { captionFeatures, tokenBatch } from "./batches.js";
import { assignWeights, type EpochRecord, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import type { TrainConfig } from "./config.js";
import { Adam, clipByGlobalNorm } from "./optimizer.js";
import { computeGradients, disposeGradients, type Gradients } from "./step.js";
import { decoderShapeOf, dropoutCounter, splitShards, type TrainData } from "./trainer.js";
import { type DecodeWords, scoreImages } from "./validate.js";
import type { GradientWorkers, Shard } from "./workers.js";

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

/** Advantages: each sample's reward minus the mean of its image's other samples, or minus the greedy reward. */
export function advantages(
  rewards: readonly number[],
  samplesPerImage: number,
  baselines?: readonly number[],
) {
  return rewards.map((reward, row) => {
    const image = Math.floor(row / samplesPerImage);
    if (baselines) return reward - baselines[image]!;
    let others = 0;
    for (let k = 0; k < samplesPerImage; k++) {
      if (image * samplesPerImage + k !== row) others += rewards[image * samplesPerImage + k]!;
    }
    return reward - others / (samplesPerImage - 1);
  });
}

/**
 * Self-critical sequence training: REINFORCE with CIDEr-D rewards (document frequencies from the train
 * references) and a baseline from the model itself. With the "mean" baseline (Luo 2020) each image gets
 * `samplesPerImage` sampled captions and each is compared with the mean of the others; with "greedy"
 * (Rennie et al. 2017) with the greedy caption. Gradients go through the same worker threads as
 * cross-entropy training. Val CIDEr-D (greedy, the fixed subset) is measured after every epoch; the best
 * weights are kept, and the cross-entropy weights if no epoch beats them. Resumable from scst-last.ckpt.
 */
export async function runScst(options: ScstOptions): Promise<ScstResult> {
  const { config, data, decoder, log } = options;
  const scst = config.scst;
  const perImage = scst.baseline === "greedy" ? scst.samplesPerImage : Math.max(2, scst.samplesPerImage);
  if (scst.baseline === "mean" && scst.samplesPerImage < 2)
    log(`scst: the mean baseline needs 2 or more samples per image; using ${perImage}`);
  const lastFile = path.join(options.outDir, "scst-last.ckpt");
  const bestFile = path.join(options.outDir, "scst-best.ckpt");
  const logFile = path.join(options.outDir, "log.jsonl");
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
  let state = {
    step: 0,
    epoch: 0,
    batchInEpoch: 0,
    rewardSum: 0,
    samples: 0,
    bestScore: Number.NEGATIVE_INFINITY,
    bestEpoch: -1,
    seconds: 0,
    history: [] as EpochRecord[],
  };
  const save = (file: string) =>
    saveCheckpoint(
      file,
      {
        config,
        vocabulary: data.vocabulary.toJSON(),
        encoder: data.reader.encoder,
        shape,
        step: state.step,
        optimizerStep: optimizer.step,
        epoch: state.epoch,
        batchInEpoch: state.batchInEpoch,
        rngState: rng.state,
        dropoutCalls: dropoutCounter(decoder).dropoutCalls,
        epochLossSum: state.rewardSum,
        epochTokens: state.samples,
        bestScore: state.bestScore,
        bestEpoch: state.bestEpoch,
        epochsWithoutImprovement: 0,
        trainSeconds: state.seconds,
        epochSeconds: 0,
        tokensSeen: 0,
        history: state.history,
        stage: "scst",
      },
      decoder.variables,
      optimizer.getState(),
      decoder.buffers,
    );

  if (options.resume && existsSync(lastFile)) {
    const loaded = loadCheckpoint(lastFile);
    const saved = loaded.manifest;
    assignWeights(decoder.variables, loaded.weights, decoder.buffers);
    optimizer.setState(loaded.optimizer);
    rng.state = saved.rngState;
    if (saved.dropoutCalls !== undefined) dropoutCounter(decoder).dropoutCalls = saved.dropoutCalls;
    state = {
      step: saved.step,
      epoch: saved.epoch,
      batchInEpoch: saved.batchInEpoch,
      rewardSum: saved.epochLossSum,
      samples: saved.epochTokens,
      bestScore: saved.bestScore,
      bestEpoch: saved.bestEpoch,
      seconds: saved.trainSeconds,
      history: saved.history,
    };
    log(`scst: resumed from ${lastFile} at step ${state.step} (epoch ${state.epoch + 1})`);
  } else {
    // The cross-entropy model is the one to beat; it is "epoch -1" of this stage.
    state.bestScore = scoreVal().ciderD;
    save(bestFile);
    log(`scst: val CIDEr-D before: ${state.bestScore.toFixed(4)}`);
  }

  const batchesPerEpoch = Math.ceil(data.train.length / scst.batchSize);
  const plannedSteps = scst.epochs * batchesPerEpoch;
  const totalSteps = scst.maxSteps > 0 ? Math.min(plannedSteps, scst.maxSteps) : plannedSteps;
  const progress = (options.progress ?? noProgress)("scst", totalSteps * scst.batchSize * perImage, {
    unit: "samples",
  });
  progress.increment(state.step * scst.batchSize * perImage);
  while (state.step < totalSteps && state.epoch < scst.epochs) {
    const order = new Rng(deriveSeed(config.seed, 9000 + state.epoch)).shuffle([...data.train.keys()]);
    const epochStarted = Date.now();
    for (let b = state.batchInEpoch; b < batchesPerEpoch && state.step < totalSteps; b++) {
      const started = Date.now();
      const images = order
        .slice(b * scst.batchSize, (b + 1) * scst.batchSize)
        .map((index) => data.train[index]!);
      const ids = images.flatMap((image) => Array<string>(perImage).fill(image.id));
      const samples = sampleCaptions(
        new TfjsRuntime(decoder),
        readFeatureBatch(data.reader, ids),
        scst.maxLength,
        rng,
      );
      let baselines: number[] | undefined;
      if (scst.baseline === "greedy") {
        const imageBatch = readFeatureBatch(
          data.reader,
          images.map((image) => image.id),
        );
        const greedy = options.decode(decoder, data.vocabulary, imageBatch, {
          beam: 1,
          maxLength: scst.maxLength,
        });
        baselines = images.map((image, i) => reward.score(image.id, greedy[i] ?? []));
      }
      const rewards = samples.map((sample, row) => reward.score(ids[row]!, data.vocabulary.decode(sample)));
      const weights = advantages(rewards, perImage, baselines);
      const captions = samples.map((sample) => [START_ID, ...sample]);
      const views = ids.map(() => 0);
      // Offset the dropout counters past any cross-entropy step's so SCST never reuses its masks.
      const shards = splitShards(
        ids,
        views,
        captions,
        options.workers?.threads ?? 1,
        1_000_000 + state.step,
        weights,
        "contiguous",
      );
      const local = (shard: Shard): Gradients =>
        withSeededRandom(rng, () => {
          if (options.workers) dropoutCounter(decoder).dropoutCalls = shard.dropoutCalls;
          return computeGradients(
            decoder,
            captionFeatures(data.reader, shard.ids),
            tokenBatch(shard.captions),
            config.optim,
            shard.captionWeights,
          );
        });
      const result = options.workers
        ? await options.workers.gradients(decoder, shards, local)
        : local(shards[0]!);
      clipByGlobalNorm(result.grads, config.optim.clipNorm);
      optimizer.apply(result.grads, scst.learningRate);
      disposeGradients(result.grads);
      state.step += 1;
      state.batchInEpoch = b + 1;
      state.rewardSum += rewards.reduce((sum, value) => sum + value, 0);
      state.samples += rewards.length;
      state.seconds += (Date.now() - started) / 1000;
      progress.increment(rewards.length);
      if (config.checkpointEvery > 0 && state.step % config.checkpointEvery === 0) save(lastFile);
      if (config.logEvery > 0 && state.step % config.logEvery === 0)
        log(
          `scst step ${state.step}/${totalSteps}: mean sample CIDEr-D ${(state.rewardSum / state.samples).toFixed(4)}`,
        );
      options.onStep?.(state.step);
    }
    const scores = scoreVal();
    const record: EpochRecord = {
      stage: "scst",
      epoch: state.epoch,
      step: state.step,
      trainLoss: Number.NaN,
      valLoss: Number.NaN,
      bleu4: scores.bleu4,
      ciderD: scores.ciderD,
      learningRate: scst.learningRate,
      tokensPerSecond: 0,
      seconds: (Date.now() - epochStarted) / 1000,
    };
    state.history.push(record);
    appendFileSync(logFile, `${JSON.stringify(record)}\n`);
    log(
      `scst epoch ${state.epoch + 1}: mean sample CIDEr-D ${(state.rewardSum / Math.max(1, state.samples)).toFixed(4)}, ` +
        `val BLEU-4 ${scores.bleu4.toFixed(4)}, CIDEr-D ${scores.ciderD.toFixed(4)}`,
    );
    if (scores.ciderD > state.bestScore) {
      state.bestScore = scores.ciderD;
      state.bestEpoch = state.epoch;
      save(bestFile);
    }
    state.epoch += 1;
    state.batchInEpoch = 0;
    state.rewardSum = 0;
    state.samples = 0;
    save(lastFile);
  }
  progress.stop();
  optimizer.dispose();
  assignWeights(decoder.variables, loadCheckpoint(bestFile).weights, decoder.buffers);
  log(
    state.bestEpoch >= 0
      ? `scst: keeping epoch ${state.bestEpoch + 1} (val CIDEr-D ${state.bestScore.toFixed(4)})`
      : "scst: no epoch beat the cross-entropy model; keeping its weights",
  );
  return { history: state.history, kept: state.history.find((record) => record.epoch === state.bestEpoch) };
}

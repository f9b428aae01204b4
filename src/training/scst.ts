import { appendFileSync } from "node:fs";
import { deriveSeed, Rng, withSeededRandom } from "../core/rng.js";
import { START_ID } from "../data/vocabulary.js";
import { TfjsRuntime } from "../decoders/tfjs-runtime.js";
import { readFeatureBatch } from "../features/batch.js";
import { sampleCaptions } from "../generation/sample.js";
import { captionFeatures, type ImageCaptions, tokenBatch } from "./batches.js";
import type { EpochRecord } from "./checkpoint.js";
import { globalNormScale } from "./optimizer.js";
import { finishScst, type ScstOptions, type ScstResult, type ScstRun, startScst } from "./scst-run.js";
import { dropoutCounter, splitShards } from "./shards.js";
import { computeGradients, disposeGradients, type Gradients } from "./step.js";
import { endStep } from "./step-end.js";
import type { Shard } from "./workers.js";

export type { ScstOptions, ScstResult } from "./scst-run.js";

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
 * The parts, in order: start or resume (scst-run.ts), each epoch's steps and its end, the best weights.
 */
export async function runScst(options: ScstOptions): Promise<ScstResult> {
  const run = startScst(options);
  const { state } = run;
  while (state.step < run.totalSteps && state.epoch < options.config.scst.epochs) {
    const epochStarted = Date.now();
    await trainScstEpoch(run);
    endScstEpoch(run, epochStarted);
  }
  return finishScst(run);
}

/** The SCST steps of the epoch in progress, from the batch a resumed run stopped at. */
async function trainScstEpoch(run: ScstRun): Promise<void> {
  const { options, state } = run;
  const { config, data } = options;
  const scst = config.scst;
  const order = new Rng(deriveSeed(config.seed, 9000 + state.epoch)).shuffle([...data.train.keys()]);
  for (let b = state.batchInEpoch; b < run.batchesPerEpoch && state.step < run.totalSteps; b++) {
    const started = Date.now();
    const images = order
      .slice(b * scst.batchSize, (b + 1) * scst.batchSize)
      .map((index) => data.train[index]!);
    const rewards = await scstStep(run, images);
    state.step += 1;
    state.batchInEpoch = b + 1;
    state.rewardSum += rewards.reduce((sum, value) => sum + value, 0);
    state.rewardCount += rewards.length;
    state.trainSeconds += (Date.now() - started) / 1000;
    run.progress.increment(rewards.length);
    if (config.logEvery > 0 && state.step % config.logEvery === 0)
      options.log(
        `scst step ${state.step}/${run.totalSteps}: mean sample CIDEr-D ${(state.rewardSum / state.rewardCount).toFixed(4)}`,
      );
    await endStep(
      state.step,
      config.checkpointEvery,
      () => run.save(run.files.last),
      () => options.onStep?.(state.step),
    );
  }
}

/**
 * One self-critical step on a batch of images: sample captions, reward them with CIDEr-D, weight their
 * log-likelihood gradients by the advantages, apply. Returns the samples' rewards.
 */
async function scstStep(run: ScstRun, images: readonly ImageCaptions[]): Promise<number[]> {
  const { config, data, decoder, workers } = run.options;
  const scst = config.scst;
  const ids = images.flatMap((image) => Array<string>(run.perImage).fill(image.id));
  const samples = sampleCaptions(
    new TfjsRuntime(decoder),
    readFeatureBatch(data.reader, ids),
    scst.maxLength,
    run.rng,
  );
  let baselines: number[] | undefined;
  if (scst.baseline === "greedy") {
    const imageBatch = readFeatureBatch(
      data.reader,
      images.map((image) => image.id),
    );
    const greedy = run.options.decode(decoder, data.vocabulary, imageBatch, {
      beam: 1,
      maxLength: scst.maxLength,
    });
    baselines = images.map((image, i) => run.reward.score(image.id, greedy[i] ?? []));
  }
  const rewards = samples.map((sample, row) => run.reward.score(ids[row]!, data.vocabulary.decode(sample)));
  const weights = advantages(rewards, run.perImage, baselines);
  const captions = samples.map((sample) => [START_ID, ...sample]);
  const views = ids.map(() => 0);
  // Offset the dropout counters past any cross-entropy step's so SCST never reuses its masks.
  const shards = splitShards(
    ids,
    views,
    captions,
    workers?.threads ?? 1,
    1_000_000 + run.state.step,
    weights,
    "contiguous",
  );
  const local = (shard: Shard): Gradients =>
    withSeededRandom(run.rng, () => {
      if (workers) dropoutCounter(decoder).dropoutCalls = shard.dropoutCalls;
      return computeGradients(
        decoder,
        captionFeatures(data.reader, shard.ids),
        tokenBatch(shard.captions),
        config.optim,
        shard.captionWeights,
      );
    });
  const result = workers ? await workers.gradients(decoder, shards, local) : local(shards[0]!);
  const { scale } = globalNormScale(result.grads, config.optim.clipNorm);
  run.optimizer.apply(result.grads, scst.learningRate, scale);
  disposeGradients(result.grads);
  return rewards;
}

/**
 * Val BLEU-4 / CIDEr-D after an epoch, its record in log.jsonl (its seconds count the validation too),
 * scst-best.ckpt if it is the best so far, scst-last.ckpt.
 */
function endScstEpoch(run: ScstRun, epochStarted: number): void {
  const { options, state } = run;
  const scores = run.scoreVal();
  const record: EpochRecord = {
    stage: "scst",
    epoch: state.epoch,
    step: state.step,
    trainLoss: Number.NaN,
    valLoss: Number.NaN,
    bleu4: scores.bleu4,
    ciderD: scores.ciderD,
    learningRate: options.config.scst.learningRate,
    tokensPerSecond: 0,
    seconds: (Date.now() - epochStarted) / 1000,
  };
  state.history.push(record);
  appendFileSync(run.files.log, `${JSON.stringify(record)}\n`);
  options.log(
    `scst epoch ${state.epoch + 1}: mean sample CIDEr-D ${(state.rewardSum / Math.max(1, state.rewardCount)).toFixed(4)}, ` +
      `val BLEU-4 ${scores.bleu4.toFixed(4)}, CIDEr-D ${scores.ciderD.toFixed(4)}`,
  );
  if (scores.ciderD > state.bestCiderD) {
    state.bestCiderD = scores.ciderD;
    state.bestEpoch = state.epoch;
    run.save(run.files.best);
  }
  state.epoch += 1;
  state.batchInEpoch = 0;
  state.rewardSum = 0;
  state.rewardCount = 0;
  run.save(run.files.last);
}

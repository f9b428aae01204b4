import { deriveSeed, withSeededRandom } from "../core/rng.js";
import type { FeatureReader } from "../features/types.js";
import { type CaptionExample, captionFeatures, epochBatches, tokenBatch } from "./batches.js";
import { globalNormScale, learningRateAt } from "./optimizer.js";
import { dropoutCounter, splitShards } from "./shards.js";
import { computeGradients, disposeGradients, type Gradients } from "./step.js";
import { endStep } from "./step-end.js";
import type { Shard } from "./workers.js";
import type { CrossEntropyRun } from "./xe-run.js";

/** What an epoch's steps hand to its end: the last step's learning rate and the epoch's wall time. */
export interface EpochSteps {
  learningRate: number;
  seconds: number;
}

/**
 * The optimizer steps of the epoch in progress, from the batch a resumed run stopped at to the end of
 * the epoch or of the run. Checkpoints last.ckpt every config.checkpointEvery steps.
 */
export async function trainEpoch(run: CrossEntropyRun): Promise<EpochSteps> {
  const { options, state, plan } = run;
  const { config } = options;
  const batches = epochBatches(
    plan.examples,
    config.optim.batchSize,
    config.optim.bucketBatches,
    config.seed,
    state.epoch,
    config.optim.groupByImage,
  );
  let learningRate = 0;
  const epochStarted = Date.now();
  for (let b = state.batchInEpoch; b < batches.length; b++) {
    if (state.step >= plan.totalSteps) break;
    const started = Date.now();
    learningRate = learningRateAt(state.step, plan.schedule);
    const result = await gradientsOf(
      run,
      batches[b]!.map((index) => plan.examples[index]!),
    );
    const { scale } = globalNormScale(result.grads, config.optim.clipNorm);
    run.optimizer.apply(result.grads, learningRate, scale);
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
    run.progress.increment(result.tokens, {});
    if (config.logEvery > 0 && state.step % config.logEvery === 0) {
      run.log(
        `step ${state.step}/${plan.totalSteps} epoch ${state.epoch + 1}: loss ${(state.epochLossSum / state.epochTokens).toFixed(4)}, ` +
          `lr ${learningRate.toExponential(2)}, ${(state.epochTokens / Math.max(state.epochSeconds, 1e-9)).toFixed(0)} tokens/s`,
      );
    }
    await endStep(
      state.step,
      config.checkpointEvery,
      () => run.save(run.files.last),
      () => options.onStep?.(state.step, result.loss),
    );
  }
  return { learningRate, seconds: (Date.now() - epochStarted) / 1000 };
}

/** Teacher-forced gradients of one batch, split over the gradient workers when there are any. */
async function gradientsOf(run: CrossEntropyRun, chosen: readonly CaptionExample[]): Promise<Gradients> {
  const { config, data, workers } = run.options;
  const { decoder, state } = run;
  const ids = chosen.map((example) => data.train[example.image]!.id);
  const views = chosen.map((example, i) =>
    config.data.augmentedViews ? viewOf(data.reader, ids[i]!, example.image, config.seed, state.epoch) : 0,
  );
  const local = (shard: Shard): Gradients =>
    withSeededRandom(run.dropoutRng, () => {
      if (workers) dropoutCounter(decoder).dropoutCalls = shard.dropoutCalls;
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
    workers?.threads ?? 1,
    state.step,
    undefined,
    config.optim.groupByImage ? "contiguous" : "interleaved",
  );
  return workers ? await workers.gradients(decoder, shards, local) : local(shards[0]!);
}

/** View index of an image in an epoch: a pure function of (seed, epoch, image), so resumes replay it. */
function viewOf(reader: FeatureReader, id: string, imageIndex: number, seed: number, epoch: number): number {
  const views = reader.viewsOf(id);
  if (views <= 1) return 0;
  return deriveSeed(deriveSeed(seed, 1000 + epoch), imageIndex) % views;
}

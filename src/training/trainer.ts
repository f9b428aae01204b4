import { existsSync } from "node:fs";
import type { CaptionDecoder } from "../decoders/types.js";
import { assignWeights, type EpochRecord, loadCheckpoint } from "./checkpoint.js";
import { trainEpoch } from "./xe-epoch.js";
import { endEpoch } from "./xe-epoch-end.js";
import { type CrossEntropyRun, startCrossEntropy, type TrainOptions } from "./xe-run.js";

// Homes of what callers of the trainer also need, re-exported where they have always been found.
export { decoderConfigOf } from "./config.js";
export type { TrainData } from "./prepare.js";
export type { ExportInfo, TrainerParts, TrainOptions } from "./xe-run.js";

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

/**
 * Cross-entropy training with teacher forcing: bucketed batches, Adam with warm-up/decay, clipping,
 * per-epoch validation (loss, greedy BLEU-4 / CIDEr-D), JSONL log, curve, early stopping, atomic
 * resumable checkpoints (last.ckpt) and the best one (best.ckpt). The parts, in order: start or resume
 * (xe-run.ts), each epoch's steps (xe-epoch.ts) and its end (xe-epoch-end.ts), then the best weights.
 */
export async function trainCrossEntropy(options: TrainOptions): Promise<TrainResult> {
  const run = await startCrossEntropy(options);
  const { state, plan } = run;
  let earlyStop = false;
  while (!earlyStop && state.step < plan.totalSteps && state.epoch < options.config.optim.epochs) {
    const steps = await trainEpoch(run);
    if (state.epochTokens === 0) break;
    earlyStop = await endEpoch(run, steps);
  }
  run.progress.stop();
  return finish(run);
}

/** Loads the best checkpoint's weights into the decoder and frees the optimizer. */
function finish(run: CrossEntropyRun): TrainResult {
  const { decoder, state, files } = run;
  if (existsSync(files.best))
    assignWeights(decoder.variables, loadCheckpoint(files.best).weights, decoder.buffers);
  run.optimizer.dispose();
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

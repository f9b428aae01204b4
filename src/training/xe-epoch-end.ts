import { appendFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { EpochRecord } from "./checkpoint.js";
import { curveSvg, writeCurvePng } from "./curve.js";
import { scoreImages, validationLoss } from "./validate.js";
import type { EpochSteps } from "./xe-epoch.js";
import type { CrossEntropyRun } from "./xe-run.js";

/**
 * The end of an epoch: val loss and greedy BLEU-4 / CIDEr-D on the fixed val subset, the record in
 * log.jsonl and the history, best.ckpt (and best-model/) when the score improved, last.ckpt, the curve.
 * Returns true when early stopping ends the run (config.eval.patience epochs without improvement).
 */
export async function endEpoch(run: CrossEntropyRun, steps: EpochSteps): Promise<boolean> {
  const { options, state, plan, decoder } = run;
  const { config, data, parts } = options;
  const valLoss = validationLoss(
    decoder,
    data.reader,
    data.val,
    plan.valLossExamples,
    Math.max(config.optim.batchSize, 64),
  );
  const scores =
    plan.valImages.length > 0
      ? scoreImages(decoder, data.reader, plan.valImages, data.vocabulary, parts.decode, {
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
    learningRate: steps.learningRate,
    tokensPerSecond: state.epochTokens / Math.max(state.epochSeconds, 1e-9),
    seconds: steps.seconds,
  };
  state.history.push(record);
  appendFileSync(run.files.log, `${JSON.stringify(record)}\n`);
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
    run.save(run.files.best);
    if (parts.exportModel) {
      await parts.exportModel(path.join(options.outDir, "best-model"), decoder, {
        vocabulary: data.vocabulary,
        encoder: data.reader.encoder,
        config,
        metrics: { valLoss, "BLEU-4": record.bleu4, "CIDEr-D": record.ciderD, epoch: record.epoch + 1 },
      });
    }
  } else {
    state.epochsWithoutImprovement += 1;
  }
  run.save(run.files.last);
  writeFileSync(path.join(options.outDir, "curve.svg"), curveSvg(state.history));
  await writeCurvePng(state.history, path.join(options.outDir, "curve.png"));
  run.log(
    `epoch ${record.epoch + 1}: train loss ${record.trainLoss.toFixed(4)}, val loss ${record.valLoss.toFixed(4)}, ` +
      `BLEU-4 ${record.bleu4.toFixed(4)}, CIDEr-D ${record.ciderD.toFixed(4)}, ${record.tokensPerSecond.toFixed(0)} tokens/s`,
  );
  if (config.eval.patience > 0 && state.epochsWithoutImprovement >= config.eval.patience) {
    run.log(`early stop: no val CIDEr-D gain for ${config.eval.patience} epochs`);
    return true;
  }
  return false;
}

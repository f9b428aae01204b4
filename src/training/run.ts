import path from "node:path";
import type { ProgressFactory } from "../core/progress.js";
import type { Vocabulary } from "../data/vocabulary.js";
import { createDecoder } from "../decoders/factory.js";
import { TfjsRuntime } from "../decoders/tfjs-runtime.js";
import type { CaptionDecoder } from "../decoders/types.js";
import { openFeatureStore } from "../features/reader.js";
import { CaptionModel } from "../generation/caption-model.js";
import type { PreprocessSpec } from "../image/preprocess.js";
import { saveModel } from "../model/single.js";
import { initTfjs } from "../tfjs/init.js";
import type { EpochRecord } from "./checkpoint.js";
import { decoderConfigOf, type TrainConfig } from "./config.js";
import { decoderShapeOf, prepareTrainData } from "./prepare.js";
import { runScst } from "./scst.js";
import { type TrainerParts, type TrainResult, trainCrossEntropy } from "./trainer.js";
import type { DecodeWords } from "./validate.js";
import { startGradientWorkers } from "./workers.js";

/** Captioning through generation/ (the only decoding code), reduced to the words. */
export const decodeWords: DecodeWords = (decoder, vocabulary, batch, options) => {
  const info = { name: "training", encoder: "", weightsDigest: "" };
  const model = new CaptionModel(new TfjsRuntime(decoder), vocabulary, info);
  return model.caption([batch], { ...options, alternatives: 0 }).map((result) => result.tokens);
};

/** Saves a servable model folder (model.json + float16 weights.bin) for a trained decoder. */
export async function exportTrainedModel(
  dir: string,
  decoder: CaptionDecoder,
  info: {
    vocabulary: Vocabulary;
    encoder: string;
    preprocessing: PreprocessSpec;
    metrics?: Record<string, unknown>;
    training?: Record<string, unknown>;
    /** Model name in model.json; default: the folder's name. */
    name?: string;
  },
): Promise<void> {
  await saveModel(dir, decoder, {
    name: info.name ?? path.basename(path.resolve(dir)),
    encoder: info.encoder,
    vocabulary: info.vocabulary.toJSON(),
    preprocessing: info.preprocessing,
    metrics: info.metrics,
    training: info.training,
  });
}

export interface RunTrainingOptions {
  outDir: string;
  resume?: boolean;
  log?: (line: string) => void;
  /** Progress of each stage (the CLI passes a terminal bar). Default: none. */
  progress?: ProgressFactory;
  /** Called after every cross-entropy step (after any checkpoint); a throw stops the run like a kill. */
  onStep?: (step: number, loss: number) => void;
}

export interface RunTrainingResult extends TrainResult {
  /** Folder of the exported best model (model.json + weights.bin). */
  modelDir: string;
  /** The SCST epoch whose weights were kept (undefined: no SCST, or it did not beat cross-entropy). */
  scstKept?: EpochRecord;
}

/**
 * Everything `captionkit train` does: backend, data and feature caches, (workers), cross-entropy
 * training with validation and checkpoints, the optional SCST stage, and the best model exported to
 * <out>/model.
 */
export async function runTraining(
  config: TrainConfig,
  options: RunTrainingOptions,
): Promise<RunTrainingResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await initTfjs("wasm", { nativeMatMul: true });
  const dirs = typeof config.data.features === "string" ? [config.data.features] : config.data.features;
  const open = (dir: string) => openFeatureStore(dir, { allowPartial: config.data.partialFeatures });
  const data = await prepareTrainData(config, open, log);
  const first = open(dirs[0]!);
  const preprocessing: PreprocessSpec = {
    size: first.manifest.inputSize,
    normalization: first.manifest.normalization,
    fit: "fill",
  };
  first.close();
  const modelDir = path.join(options.outDir, "model");
  const parts: TrainerParts = {
    createDecoder,
    decode: decodeWords,
    exportModel: (dir, decoder, info) =>
      exportTrainedModel(dir, decoder, {
        vocabulary: info.vocabulary,
        encoder: info.encoder,
        preprocessing,
        metrics: { val_greedy_subset: info.metrics },
        training: { config: info.config },
      }),
  };
  const workers =
    config.workers > 1
      ? await startGradientWorkers(config.workers, {
          decoderConfig: decoderConfigOf(config),
          shape: decoderShapeOf(data.reader, data.vocabulary),
          seed: config.seed,
          features: { kind: "dirs", dirs },
          loss: config.optim,
        })
      : undefined;
  let result: TrainResult;
  let scstKept: EpochRecord | undefined;
  try {
    result = await trainCrossEntropy({
      config,
      data,
      parts,
      outDir: options.outDir,
      resume: options.resume,
      log,
      workers,
      ...(options.progress ? { progress: options.progress } : {}),
      ...(options.onStep ? { onStep: options.onStep } : {}),
    });
    if (config.scst.enabled) {
      ({ kept: scstKept } = await runScst({
        config,
        data,
        decoder: result.decoder,
        outDir: options.outDir,
        log,
        decode: decodeWords,
        resume: options.resume,
        workers,
        ...(options.progress ? { progress: options.progress } : {}),
      }));
    }
  } finally {
    await workers?.close();
  }
  const best = scstKept ?? result.history.find((record) => record.epoch === result.bestEpoch);
  await exportTrainedModel(modelDir, result.decoder, {
    vocabulary: data.vocabulary,
    encoder: data.reader.encoder,
    preprocessing,
    metrics: best
      ? {
          val_greedy_subset: {
            images: config.eval.valImages,
            "BLEU-4": best.bleu4,
            "CIDEr-D": best.ciderD,
            valLoss: best.valLoss,
            stage: best.stage,
          },
        }
      : {},
    training: {
      config,
      steps: result.steps,
      trainSeconds: Math.round(result.trainSeconds),
      tokensPerSecond: Math.round(result.tokensPerSecond),
      bestEpoch: result.bestEpoch + 1,
      trainImages: data.train.length,
    },
  });
  data.reader.close();
  return { ...result, modelDir, scstKept };
}

import { type Command, Option } from "commander";
import {
  DEFAULT_ENCODER_RUNTIME,
  ENCODER_RUNTIMES,
  type EncoderRuntime,
  encoderNames,
} from "../../encoders/names.js";
import { DEFAULT_EXTRACT_WORKERS } from "../../features/defaults.js";
import type { FeatureDtype } from "../../features/format.js";
import { addDatasetOptions, type DatasetCliOptions, loadDatasetFromOptions } from "../dataset-options.js";
import { abortOnSigint } from "../interrupt.js";
import { startProgress } from "../progress.js";

interface FeaturesOptions extends DatasetCliOptions {
  encoder: string;
  out: string;
  augment: string;
  seed: string;
  dtype: FeatureDtype;
  workers?: string;
  threads: string;
  runtime: EncoderRuntime;
  batch: string;
  chunkSize: string;
}

function wholeNumber(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${flag} must be a whole number >= ${min}, got "${value}"`);
  return n;
}

export function register(program: Command): void {
  const command = program
    .command("features")
    .description("encode every image of a dataset split into a resumable on-disk feature store");
  addDatasetOptions(command)
    .requiredOption(
      "--encoder <name>",
      `${encoderNames().join(", ")}, names joined with + (mobilenet_v2_mid+centernet_224), or onnx:<folder>`,
    )
    .requiredOption(
      "--out <dir>",
      "root folder; the store goes into a subfolder named after encoder, size, split, dtype",
    )
    .option("--augment <n>", "augmented views per image besides the plain one (for training)", "0")
    .option("--seed <n>", "seed of the augmented views", "0")
    .addOption(
      new Option("--dtype <dtype>", "stored precision").choices(["float16", "float32"]).default("float16"),
    )
    .addOption(
      new Option("--runtime <runtime>", "what runs the built-in encoders (same features either way)")
        .choices([...ENCODER_RUNTIMES])
        .default(DEFAULT_ENCODER_RUNTIME),
    )
    .option(
      "--workers <n>",
      `worker threads, one encoder each; 0 = one encoder on the main thread using --threads (default ${DEFAULT_EXTRACT_WORKERS})`,
    )
    .option(
      "--threads <n>",
      "onnxruntime threads of the main-thread encoder with --workers 0 (0 = all cores)",
      "0",
    )
    .option("--batch <n>", "images per encoder call (part of the store's identity)", "8")
    .option("--chunk-size <n>", "images per chunk file: the unit of commit and resumption", "256")
    .action(async (options: FeaturesOptions) => {
      const augment = wholeNumber("--augment", options.augment, 0);
      const workers =
        options.workers === undefined
          ? DEFAULT_EXTRACT_WORKERS
          : wholeNumber("--workers", options.workers, 0);
      const dataset = await loadDatasetFromOptions(options);
      const { extractFeatures } = await import("../../features/extract.js");
      const images = dataset.images.map((image) => ({ id: image.id, path: image.path }));
      const interrupt = abortOnSigint();
      const progress = startProgress("features", images.length, { unit: "images" });
      let shown = 0;
      try {
        const result = await extractFeatures({
          images,
          encoder: options.encoder,
          runtime: options.runtime,
          out: options.out,
          dataset: { source: dataset.source, split: options.split ?? "all" },
          dtype: options.dtype,
          augment,
          augmentSeed: wholeNumber("--seed", options.seed, 0),
          batch: wholeNumber("--batch", options.batch, 1),
          chunkSize: wholeNumber("--chunk-size", options.chunkSize, 1),
          workers,
          threads: wholeNumber("--threads", options.threads, 0),
          signal: interrupt.signal,
          onProgress: (done) => {
            progress.increment(done - shown);
            shown = done;
          },
        });
        progress.stop();
        for (const e of result.errors)
          process.stderr.write(`captionkit: warning: skipped ${e.id}: ${e.message}\n`);
        const resumed = result.resumed > 0 ? ` (${result.resumed} resumed from an earlier run)` : "";
        process.stdout.write(
          `${result.dir}\n${result.stored} images x ${result.manifest.views} views, grid ${result.manifest.gridShape.join("x")}, pooled ${result.manifest.pooledSize}, ${result.manifest.dtype}${resumed}; ${result.errors.length} unreadable\n`,
        );
      } catch (err) {
        progress.stop();
        if (interrupt.signal.aborted) {
          throw new Error("interrupted: finished chunks are kept; rerun the same command to resume");
        }
        throw err;
      } finally {
        interrupt.release();
      }
    });
}

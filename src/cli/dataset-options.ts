import type { Command } from "commander";
import type { CaptionDataset } from "../data/types.js";

/** The dataset flags as commander parses them (camelCased). */
export interface DatasetCliOptions {
  dataset?: string;
  images?: string;
  split?: string;
  skipMissing?: boolean;
}

export interface DatasetOptionsConfig {
  /** Add `--dataset SPEC` (default true); false when the command takes the spec as an argument. */
  datasetFlag?: boolean;
  /** Split used when `--split` is not given (default "all"). */
  defaultSplit?: string;
}

/**
 * Adds `--dataset/--images/--split/--skip-missing` to a command so that features, train, evaluate and
 * dataset stats all read datasets the same way.
 *
 * @example
 * addDatasetOptions(program.command("features"), { defaultSplit: "train" }).action(async (opts) => {
 *   const dataset = await loadDatasetFromOptions(opts);
 * });
 */
export function addDatasetOptions(command: Command, config: DatasetOptionsConfig = {}): Command {
  if (config.datasetFlag !== false) {
    command.option(
      "--dataset <spec>",
      "dataset file: Flickr token file, TSV, COCO captions JSON, Karpathy JSON or JSONL",
    );
  }
  return command
    .option(
      "--images <dir>",
      "folder that relative image paths resolve against (default: guessed near the file)",
    )
    .option(
      "--split <split>",
      "all, a split name (or names joined with commas), or a split-list file",
      config.defaultSplit ?? "all",
    )
    .option("--skip-missing", "leave out images missing on disk instead of failing", false);
}

/**
 * Loads the dataset named by parsed options (or by `spec` when the command takes it as an argument);
 * warnings such as skipped images go to stderr, results stay on stdout.
 */
export async function loadDatasetFromOptions(
  options: DatasetCliOptions,
  spec?: string,
): Promise<CaptionDataset> {
  const file = spec ?? options.dataset;
  if (!file)
    throw new Error("no dataset given: pass --dataset FILE (e.g. ../shared/datasets/flickr8k/captions.tsv)");
  const { loadDataset } = await import("../data/load.js");
  return loadDataset(file, {
    ...(options.images === undefined ? {} : { images: options.images }),
    split: options.split ?? "all",
    skipMissing: options.skipMissing ?? false,
    onWarning: (message) => process.stderr.write(`captionkit: warning: ${message}\n`),
  });
}

import { type Command, Option } from "commander";
import type { DatasetStats } from "../../data/stats.js";
import { addDatasetOptions, type DatasetCliOptions, loadDatasetFromOptions } from "../dataset-options.js";

interface StatsOptions extends DatasetCliOptions {
  minCount: string;
  format: "json" | "text";
}

export function register(program: Command): void {
  const dataset = program.command("dataset").description("inspect caption datasets");
  const stats = dataset
    .command("stats")
    .description("images, captions, split sizes, vocabulary size and caption lengths of a dataset")
    .argument("<spec>", "dataset file: Flickr token file, TSV, COCO captions JSON, Karpathy JSON or JSONL");
  addDatasetOptions(stats, { datasetFlag: false })
    .option("--min-count <n>", "minimum word count for the vocabulary size", "5")
    .addOption(new Option("--format <format>", "output format").choices(["text", "json"]).default("text"))
    .action(async (spec: string, options: StatsOptions) => {
      const minCount = Number(options.minCount);
      if (!Number.isInteger(minCount) || minCount < 1) {
        throw new Error(`--min-count must be a whole number of at least 1, got "${options.minCount}"`);
      }
      const { datasetStats } = await import("../../data/stats.js");
      const result = datasetStats(await loadDatasetFromOptions(options, spec), { minCount });
      process.stdout.write(
        options.format === "json" ? `${JSON.stringify(result, null, 2)}\n` : formatStats(result),
      );
    });
}

/** Readable report; histogram bars are scaled to the fullest bin (40 marks). */
export function formatStats(stats: DatasetStats): string {
  const number = (value: number): string => value.toLocaleString("en-US");
  const lines = [
    `source       ${stats.source} (${stats.format})`,
    `image dir    ${stats.imageRoot ?? "-"}`,
    `split        ${stats.split}`,
    "",
    `images       ${number(stats.images)}`,
    `captions     ${number(stats.captions)} (per image: min ${stats.captionsPerImage.min}, mean ${stats.captionsPerImage.mean}, max ${stats.captionsPerImage.max})`,
  ];
  if (stats.splits) {
    const parts = Object.entries(stats.splits).map(([name, count]) => `${name} ${number(count)}`);
    lines.push(`splits       ${parts.join(", ")}`);
  }
  const { vocabulary, captionLength: length } = stats;
  lines.push(
    `vocabulary   ${number(vocabulary.size)} tokens at min-count ${vocabulary.minCount} ` +
      `(${number(vocabulary.distinctWords)} distinct words, ${(vocabulary.coverage * 100).toFixed(2)}% of tokens covered)`,
    `length       min ${length.min}, mean ${length.mean}, median ${length.median}, p95 ${length.p95}, max ${length.max} (PTB tokens)`,
  );
  const fullest = Math.max(1, ...length.histogram.map((bin) => bin.count));
  for (const bin of length.histogram) {
    const label = bin.to === null ? `${bin.from}+` : `${bin.from}-${bin.to}`;
    // Any non-empty bin gets at least one mark so rare long captions stay visible.
    const bar = "#".repeat(bin.count === 0 ? 0 : Math.max(1, Math.round((bin.count / fullest) * 40)));
    lines.push(`  ${label.padStart(5)}  ${number(bin.count).padStart(9)}  ${bar}`.trimEnd());
  }
  return `${lines.join("\n")}\n`;
}

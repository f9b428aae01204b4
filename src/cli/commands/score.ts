import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import type { METRIC_NAMES, ScoreReport } from "../../metrics/index.js";

interface ScoreFlags {
  candidates: string;
  references: string;
  tokenized?: boolean;
  format: string;
  metrics?: string;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}; check the path`);
  }
  if (text.trim().length === 0) throw new Error(`${file} is empty; expected JSON`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function toJson(report: ScoreReport): string {
  return JSON.stringify({ ...report.corpus, per_image: Object.fromEntries(report.perImage) }, null, 2);
}

function toTable(report: ScoreReport, images: number, names: typeof METRIC_NAMES): string {
  const rows = names
    .filter((name) => report.corpus[name] !== undefined)
    .map((name) => `${name.padEnd(8)}  ${(report.corpus[name] as number).toFixed(4)}`);
  return [`metric    score   (${images} images)`, ...rows].join("\n");
}

export function register(program: Command): void {
  program
    .command("score")
    .description("Score candidate captions against references (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D)")
    .requiredOption(
      "--candidates <file>",
      'JSON {"<id>": "caption"} or COCO results [{"image_id", "caption"}]',
    )
    .requiredOption("--references <file>", 'JSON {"<id>": ["ref", ...]} or a COCO captions annotation file')
    .option("--tokenized", "text is already PTB-tokenized (skip tokenization)")
    .option("--format <format>", "table or json (json adds per-image scores)", "table")
    .option("--metrics <list>", "comma-separated subset of bleu,meteor,rouge,cider (default: all)")
    .action(async (flags: ScoreFlags) => {
      if (flags.format !== "table" && flags.format !== "json") {
        throw new Error(`unknown --format "${flags.format}"; use table or json`);
      }
      const {
        checkCoverage,
        METRIC_NAMES,
        parseCandidates,
        parseMetricList,
        parseReferences,
        scoreCaptions,
      } = await import("../../metrics/index.js");
      const metrics = flags.metrics === undefined ? undefined : parseMetricList(flags.metrics);
      const candidates = parseCandidates(await readJson(flags.candidates), flags.candidates);
      const references = parseReferences(await readJson(flags.references), flags.references);
      checkCoverage(candidates, references);
      const unused = [...references.keys()].filter((id) => !candidates.has(id)).length;
      if (unused > 0)
        process.stderr.write(`note: ${unused} reference image(s) without a candidate are ignored\n`);
      const report = await scoreCaptions(candidates, references, {
        metrics,
        tokenized: flags.tokenized === true,
      });
      process.stdout.write(
        `${flags.format === "json" ? toJson(report) : toTable(report, candidates.size, METRIC_NAMES)}\n`,
      );
    });
}

import type { Command } from "commander";
import { startProgress } from "../progress.js";
import { parseRuntime, RUNTIME_OPTION } from "../rerank-flags.js";

interface EvaluateFlags {
  model: string;
  dataset: string;
  split: string;
  images?: string;
  beam: string;
  blockRepeats: string;
  lengthAlpha: string;
  limit?: string;
  features?: string;
  metrics?: string;
  format: string;
  captions?: boolean;
  mirror?: boolean;
  memory?: string;
  prior?: boolean;
  runtime?: string;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a whole number, got "${value}"`);
  return n;
}

export function register(program: Command): void {
  program
    .command("evaluate")
    .description("caption a dataset split with a model and print the COCO caption metrics")
    .requiredOption("--model <dir>", "model folder (model.json + weights.bin), e.g. models/default")
    .requiredOption("--dataset <spec>", "dataset file (TSV, COCO, Karpathy JSON, Flickr token file, JSONL)")
    .option("--split <name>", "split name or split-list file", "val")
    .option("--images <dir>", "folder that relative image paths resolve against")
    .option("--beam <k>", "beam size (1 = greedy)", "3")
    .option("--block-repeats <n>", "never repeat an n-gram of n words in a caption (0 = off)", "3")
    .option(
      "--length-alpha <a>",
      "beam length normalisation: rank by log p / length^a (0 = raw log p, favours short captions)",
      "0",
    )
    .option("--limit <n>", "only the first n images of the split")
    .option(
      "--mirror",
      "average the model over each image and its mirror image (default: the model's setting)",
    )
    .option("--no-mirror", "caption each image as it is only")
    .option(
      "--features <dirs>",
      "feature cache folder(s), comma-separated, from the model's encoder (skips encoding)",
    )
    .option(
      "--memory <dir>",
      "caption memory built for this model (`captionkit memory`): re-rank each beam by consensus (instead of the model's n-gram prior)",
    )
    .option("--no-prior", "do not re-rank with the model's n-gram prior (ngram-prior.json)")
    .option(...RUNTIME_OPTION)
    .option("--metrics <list>", "metric families: bleu,meteor,rouge,cider (default all)")
    .option("--captions", "also output the generated captions (json format)")
    .option("--format <fmt>", "text or json", "text")
    .action(async (flags: EvaluateFlags) => {
      if (flags.format !== "text" && flags.format !== "json")
        throw new Error(`--format must be text or json`);
      const limit = flags.limit ? positiveInt(flags.limit, "--limit") : 0;
      const beam = positiveInt(flags.beam, "--beam");
      if (beam < 1) throw new Error("--beam must be at least 1");
      const alpha = Number(flags.lengthAlpha);
      if (!Number.isFinite(alpha) || alpha < 0 || alpha > 2)
        throw new Error(`--length-alpha must be a number from 0 to 2, got "${flags.lengthAlpha}"`);
      let progress: ReturnType<typeof startProgress> | undefined;
      let last = 0;
      const [{ evaluateModel }, { parseMetricList }] = await Promise.all([
        import("../../evaluation/evaluate.js"),
        import("../../metrics/score.js"),
      ]);
      const result = await evaluateModel({
        modelDir: flags.model,
        dataset: flags.dataset,
        split: flags.split,
        images: flags.images,
        beam,
        noRepeatNgram: positiveInt(flags.blockRepeats, "--block-repeats"),
        alpha,
        limit,
        features: flags.features?.split(",").filter(Boolean),
        ...(flags.mirror === undefined ? {} : { mirror: flags.mirror }),
        ...(flags.memory ? { memoryDir: flags.memory } : {}),
        ...(flags.prior === false ? { prior: false } : {}),
        ...(flags.runtime === undefined ? {} : { runtime: parseRuntime(flags.runtime) }),
        metrics: flags.metrics ? parseMetricList(flags.metrics) : undefined,
        onProgress: (done, total) => {
          progress ??= startProgress("evaluate", total, { unit: "images" });
          progress.increment(done - last);
          last = done;
        },
      });
      progress?.stop();
      if (flags.format === "json") {
        const out: Record<string, unknown> = {
          model: result.model,
          encoder: result.encoder,
          split: result.split,
          images: result.images,
          beam: result.beam,
          mirror: result.mirror,
          ...(result.reranking ? { reranking: result.reranking } : {}),
          ...result.metrics,
          seconds: Math.round(result.seconds * 10) / 10,
        };
        if (flags.captions) out.captions = Object.fromEntries(result.captions);
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${result.model} on ${result.split} (${result.images} images, beam ${result.beam}${result.mirror ? ", mirrored" : ""}${result.reranking ? `, re-ranked by ${result.reranking}` : ""})\n`,
      );
      for (const [name, value] of Object.entries(result.metrics)) {
        process.stdout.write(`${name.padEnd(8)} ${(value as number).toFixed(4)}\n`);
      }
    });
}

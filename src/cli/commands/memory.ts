import type { Command } from "commander";
import { z } from "zod";
import { DEFAULT_MEMORY_SETTINGS } from "../../rerank/caption-memory.js";
import { parseFlags } from "../flags.js";
import { type Progress, startProgress } from "../progress.js";
import { addRerankOptions, rerankFlagFields } from "../rerank-flags.js";

const flagsSchema = z
  .object({
    model: z.string().min(1),
    dataset: z.string().min(1),
    split: z.string().min(1).default("train"),
    images: z.string().optional(),
    features: z.string().optional(),
    out: z.string().min(1),
    limit: z.coerce.number().int().min(0).default(0),
    k: z.coerce.number().int().min(1).default(DEFAULT_MEMORY_SETTINGS.k),
    ...rerankFlagFields(DEFAULT_MEMORY_SETTINGS),
  })
  .strict();

export function register(program: Command): void {
  const command = program
    .command("memory")
    .description(
      "Build a caption memory for a model from captioned photos (usually its training split): `caption`, `evaluate` and `serve` then re-rank each beam by consensus with the captions of the most similar photos (--memory DIR)",
    )
    .requiredOption("--model <dir>", "model folder the memory is for (e.g. models/default)")
    .requiredOption(
      "--dataset <spec>",
      "captioned dataset (TSV, COCO, Karpathy JSON, Flickr token file, JSONL)",
    )
    .requiredOption(
      "--out <dir>",
      "folder to write memory.json + memory.f16.bin (keep it out of git: it holds the captions); an interrupted build continues there when run again",
    )
    .option("--split <name>", "split name or split-list file", "train")
    .option("--images <dir>", "folder that relative image paths resolve against")
    .option(
      "--features <dirs>",
      "feature cache folder(s) from the model's encoder (skips encoding the photos)",
    )
    .option("--limit <n>", "only the first n images of the split (0 = all)", "0")
    .option("--k <n>", "neighbours whose captions vote", String(DEFAULT_MEMORY_SETTINGS.k));
  addRerankOptions(command, DEFAULT_MEMORY_SETTINGS, "consensus").action(
    async (rawFlags: Record<string, unknown>) => {
      const flags = parseFlags(flagsSchema, rawFlags);
      let progress: Progress | undefined;
      let shown = 0;
      const started = performance.now();
      const { writeCaptionMemory } = await import("../../training/memory-build.js");
      const built = await writeCaptionMemory(flags.out, {
        modelDir: flags.model,
        dataset: flags.dataset,
        split: flags.split,
        images: flags.images,
        features: flags.features?.split(",").filter(Boolean),
        limit: flags.limit,
        settings: { k: flags.k, weight: flags.weight, alpha: flags.alpha },
        onResume: (done, total) => {
          process.stderr.write(`continuing an interrupted build: ${done} of ${total} images already done\n`);
          progress = startProgress("memory", total, { unit: "images" });
          progress.increment(done);
          shown = done;
        },
        onProgress: (done, total) => {
          progress ??= startProgress("memory", total, { unit: "images" });
          progress.increment(done - shown);
          shown = done;
        },
      });
      progress?.stop();
      process.stderr.write(
        `caption memory for ${built.save.model}: ${built.save.ids.length} images, vectors of ${built.data.parts.join("+")} values, in ${flags.out} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`,
      );
    },
  );
}

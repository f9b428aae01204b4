import type { Command } from "commander";
import { z } from "zod";
import { DEFAULT_PRIOR_SETTINGS } from "../../rerank/ngram-prior.js";
import { PRIOR_FILE, PRIOR_WEIGHTS_FILE } from "../../rerank/ngram-prior-io.js";
import { parseFlags } from "../flags.js";
import { addRerankOptions, rerankFlagFields } from "../rerank-flags.js";

const flagsSchema = z
  .object({
    memory: z.string().min(1),
    model: z.string().min(1),
    minPhotos: z.coerce.number().int().min(1).default(50),
    ridge: z.coerce.number().positive().default(0.3),
    ...rerankFlagFields(DEFAULT_PRIOR_SETTINGS),
  })
  .strict();

export function register(program: Command): void {
  const command = program
    .command("prior")
    .description(
      "Fit a model's n-gram prior from a caption memory and save it in the model folder: `caption`, `evaluate` and `serve` then re-rank each beam by agreement with it, with no memory needed (it holds weights and common n-grams, not captions, so it can ship with the model)",
    )
    .requiredOption("--memory <dir>", "caption memory built for the model (`captionkit memory`)")
    .requiredOption(
      "--model <dir>",
      `model folder the memory was built for; ${PRIOR_FILE} and ${PRIOR_WEIGHTS_FILE} are written there`,
    )
    .option("--min-photos <n>", "keep n-grams found in the captions of at least n photos", "50")
    .option("--ridge <x>", "ridge penalty of the regression", "0.3");
  addRerankOptions(command, DEFAULT_PRIOR_SETTINGS, "agreement").action(
    async (rawFlags: Record<string, unknown>) => {
      const flags = parseFlags(flagsSchema, rawFlags);
      const started = performance.now();
      const { writeNgramPrior } = await import("../../training/prior-build.js");
      const written = await writeNgramPrior({
        memory: flags.memory,
        model: flags.model,
        minPhotos: flags.minPhotos,
        ridge: flags.ridge,
        settings: { weight: flags.weight, alpha: flags.alpha },
      });
      process.stderr.write(
        `n-gram prior for ${written.model}: ${written.ngrams} n-grams from ${written.photos} photos, in ${flags.model}/${PRIOR_FILE} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`,
      );
    },
  );
}

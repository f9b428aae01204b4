import path from "node:path";
import type { Command } from "commander";
import { abortOnSigint } from "../interrupt.js";

interface ReproduceFlags {
  dataset: string;
  out: string;
  images?: string;
  dryRun?: boolean;
}

export function register(program: Command): void {
  program
    .command("reproduce")
    .description(
      "retrain the shipped default model from a captioned dataset in one resumable command: every feature extraction, training stage, the ensemble, its caption memory and n-gram prior",
    )
    .requiredOption(
      "--dataset <spec>",
      "captions file with train and val splits (TSV, COCO, Karpathy JSON, Flickr token file, JSONL)",
    )
    .requiredOption(
      "--out <dir>",
      "recipe folder: one subfolder per step; the finished model is <dir>/model. Run again to continue after a stop",
    )
    .option("--images <dir>", "folder that the dataset's relative image paths resolve against")
    .option("--dry-run", "list the steps and which are already done, and run nothing")
    .addHelpText(
      "after",
      "\nExample:\n  captionkit reproduce --dataset ../shared/datasets/flickr8k/captions.tsv --out runs/default\n" +
        "Steps are in src/training/recipe-default.ts (presets from configs/). A finished step is skipped; an\n" +
        "interrupted one continues (training from last.ckpt). Ctrl-C stops after the current training step\n" +
        "or feature chunk; run again to resume. Flickr8k on 2 cores: about 2 h 20 min (README).",
    )
    .action(async (flags: ReproduceFlags) => {
      const { DEFAULT_RECIPE } = await import("../../training/recipe-default.js");
      const { formatSeconds, recipeStatus, runRecipe } = await import("../../training/recipe.js");
      if (flags.dryRun) {
        const status = await recipeStatus(DEFAULT_RECIPE, flags.out);
        for (const [i, step] of status.entries()) {
          const done = step.done ? `done (took ${formatSeconds(step.seconds ?? 0)})` : "to run";
          process.stdout.write(`[${i + 1}/${status.length}] ${step.name}: ${done}\n`);
        }
        return;
      }
      const { startProgress } = await import("../progress.js");
      const interrupt = abortOnSigint(
        "stopping at the next step; run the same command again to continue",
        new Error("interrupted: run the same command again to continue"),
      );
      try {
        const result = await runRecipe(DEFAULT_RECIPE, {
          dataset: flags.dataset,
          out: flags.out,
          ...(flags.images ? { images: flags.images } : {}),
          progress: startProgress,
          signal: interrupt.signal,
        });
        const total = result.steps.reduce(
          (sum, step) => sum + (step.status === "done" ? step.seconds : 0),
          0,
        );
        process.stderr.write(`recipe finished; this run took ${formatSeconds(total)}\n`);
        process.stdout.write(`${path.resolve(result.model ?? flags.out)}\n`);
      } catch (error) {
        // whichever step was stopped, say the same thing
        throw interrupt.signal.aborted ? interrupt.signal.reason : error;
      } finally {
        interrupt.release();
      }
    });
}

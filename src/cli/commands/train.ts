import path from "node:path";
import type { Command } from "commander";
import { abortOnSigint } from "../interrupt.js";
import { startProgress } from "../progress.js";

interface TrainFlags {
  config?: string;
  out?: string;
  resume?: boolean;
}

export function register(program: Command): void {
  program
    .command("train")
    .description("train a caption decoder on a feature cache (see docs/training.md)")
    .option("--config <file>", "training preset, JSON or YAML (see configs/)")
    .option(
      "--out <dir>",
      "output folder: checkpoints, log.jsonl, curve.png, model/ (overrides config `out`)",
    )
    .option("--resume", "continue the interrupted run in --out from its last checkpoint")
    .argument("[overrides...]", "config overrides as key=value or --key=value, e.g. optim.batchSize=32")
    .allowUnknownOption()
    .addHelpText(
      "after",
      "\nExamples:\n  captionkit train --config configs/flickr8k-transformer.yaml --out runs/t1\n" +
        "  captionkit train --config configs/flickr8k-transformer.yaml --out runs/t1 --resume\n" +
        "  captionkit train --config configs/flickr8k-transformer.yaml --optim.epochs=2 data.trainLimit=500",
    )
    .action(async (overrides: string[], flags: TrainFlags) => {
      const { mergeTrainConfig, parseOverrides, readPreset } = await import("../../training/config.js");
      const preset = flags.config ? readPreset(flags.config) : {};
      const config = mergeTrainConfig(preset, parseOverrides(overrides), flags.out ? { out: flags.out } : {});
      const outDir = path.resolve(config.out);
      const { runTraining } = await import("../../training/run.js");
      // Ctrl-C stops after the current optimizer step, which is saved to last.ckpt (--resume continues).
      const interrupt = abortOnSigint("stopping after this step; --resume continues from it");
      const result = await runTraining(config, {
        outDir,
        resume: flags.resume,
        progress: startProgress,
        onStep: (step) => {
          if (interrupt.signal.aborted)
            throw new Error(`stopped at step ${step}: run the same command with --resume to continue`);
        },
      }).finally(interrupt.release);
      const best = result.history.find((record) => record.epoch === result.bestEpoch);
      process.stdout.write(
        `${JSON.stringify(
          {
            model: result.modelDir,
            steps: result.steps,
            bestEpoch: result.bestEpoch + 1,
            val: best ? { loss: best.valLoss, "BLEU-4": best.bleu4, "CIDEr-D": best.ciderD } : null,
            scst: result.scstKept
              ? {
                  epoch: result.scstKept.epoch + 1,
                  "BLEU-4": result.scstKept.bleu4,
                  "CIDEr-D": result.scstKept.ciderD,
                }
              : null,
            tokensPerSecond: Math.round(result.tokensPerSecond),
            trainSeconds: Math.round(result.trainSeconds),
          },
          null,
          2,
        )}\n`,
      );
      result.decoder.dispose();
    });
}

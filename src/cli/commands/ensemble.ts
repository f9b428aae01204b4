import path from "node:path";
import type { Command } from "commander";

interface EnsembleFlags {
  out: string;
  name?: string;
  encoder?: string;
  mirror?: boolean;
}

export function register(program: Command): void {
  program
    .command("ensemble")
    .description(
      "join model folders trained on one vocabulary into one model that averages their next-word probabilities",
    )
    .argument("<models...>", "two or more model folders (model.json + weights.bin)")
    .requiredOption("--out <dir>", "ensemble folder to write (members are copied into it)")
    .option("--name <name>", "model name in model.json (default: the folder's name)")
    .option(
      "--encoder <name>",
      "encoder of the joined model when the members' encoders joined with + do not fit as they are, e.g. " +
        "centernet_448_grid14+centernet_448_grid14 for a 14x14 member and a 7x7 centernet_448 one (fed 2x2 means)",
    )
    .option(
      "--mirror",
      "caption each image with its mirror image by default (test-time mirroring: twice the work, a measured gain)",
    )
    .addHelpText(
      "after",
      "\nExample:\n  captionkit ensemble models/a models/b --out models/ab\n" +
        "The ensemble's encoder is the members' encoders joined with + (each member reads its own part);\n" +
        "caption, evaluate and serve take the folder like any model. Decoding costs the sum of the members.",
    )
    .action(async (models: string[], flags: EnsembleFlags) => {
      const { saveEnsemble } = await import("../../model/ensemble.js");
      await saveEnsemble(flags.out, models, {
        name: flags.name ?? path.basename(path.resolve(flags.out)),
        ...(flags.encoder ? { encoder: flags.encoder } : {}),
        ...(flags.mirror ? { mirror: true } : {}),
      });
      process.stdout.write(`${path.resolve(flags.out)}\n`);
    });
}

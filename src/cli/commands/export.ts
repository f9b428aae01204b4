import path from "node:path";
import type { Command } from "commander";

interface ExportFlags {
  out: string;
  name?: string;
}

export function register(program: Command): void {
  program
    .command("export")
    .description(
      "write a servable model folder (model.json + float16 weights.bin) from a training checkpoint",
    )
    .argument(
      "<checkpoint>",
      "a checkpoint written by captionkit train (best.ckpt, last.ckpt, scst-best.ckpt)",
    )
    .requiredOption("--out <dir>", "model folder to write, e.g. models/mine")
    .option("--name <name>", "model name in model.json (default: the folder's name)")
    .addHelpText(
      "after",
      "\nExample:\n  captionkit export runs/t1/last.ckpt --out models/t1-last\n" +
        "The run's first feature cache (data.features in its config) must exist: preprocessing is read from it.",
    )
    .action(async (checkpoint: string, flags: ExportFlags) => {
      const [{ initTfjs }, { exportCheckpoint }] = await Promise.all([
        import("../../tfjs/init.js"),
        import("../../training/export.js"),
      ]);
      await initTfjs();
      await exportCheckpoint(checkpoint, flags.out, { name: flags.name });
      process.stdout.write(`${path.resolve(flags.out)}\n`);
    });
}

import { readFile, writeFile } from "node:fs/promises";
import { type Command, Option } from "commander";
import type { Fit } from "../../image/preprocess.js";

interface PreviewFlags {
  out: string;
  count: string;
  seed: string;
  config?: string;
  id?: string;
  size: string;
  fit: Fit;
  maxPixels?: string;
}

function wholeNumber(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

async function readConfig(path: string | undefined): Promise<unknown> {
  if (path === undefined) return {};
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new Error(`cannot read --config ${path}: check the path`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`--config ${path} is not valid JSON (${(error as Error).message})`);
  }
}

export function register(program: Command): void {
  program
    .command("augment-preview")
    .description("write a grid of augmented training views of one image (original top-left)")
    .argument("<image>", "image file (JPEG, PNG, WebP, GIF, AVIF or TIFF)")
    .requiredOption("--out <file>", "PNG file to write the grid to")
    .option("--count <n>", "number of augmented views", "8")
    .option(
      "--seed <n>",
      "augmentation seed (same seed and image id give the views features --augment uses)",
      "0",
    )
    .option(
      "--config <file>",
      "JSON augmentation config (rotation, scale, flip, crop, brightness, contrast, saturation)",
    )
    .option("--id <id>", "image id the views derive from (default: the file name)")
    .option("--size <px>", "side of each tile", "224")
    .addOption(
      new Option("--fit <fit>", "how the image becomes square").choices(["fill", "cover"]).default("fill"),
    )
    .option("--max-pixels <n>", "refuse images larger than this many pixels (default 40000000)")
    .action(async (image: string, flags: PreviewFlags) => {
      const [{ parseAugmentConfig }, { augmentPreview }] = await Promise.all([
        import("../../image/augment.js"),
        import("../../image/preview.js"),
      ]);
      const config = parseAugmentConfig(await readConfig(flags.config));
      const { png, columns, rows } = await augmentPreview(image, {
        count: wholeNumber("--count", flags.count, 1, 99),
        seed: wholeNumber("--seed", flags.seed, 0, 2 ** 32 - 1),
        config,
        id: flags.id,
        tileSize: wholeNumber("--size", flags.size, 16, 1024),
        fit: flags.fit,
        maxPixels:
          flags.maxPixels === undefined
            ? undefined
            : wholeNumber("--max-pixels", flags.maxPixels, 1, 2 ** 31 - 1),
      });
      await writeFile(flags.out, png);
      process.stderr.write(`wrote ${flags.out}: ${columns}x${rows} grid, original top-left\n`);
    });
}

import type { Command } from "commander";
import { z } from "zod";

/** The defaults of a re-ranking's weight and length normalisation (caption memory, n-gram prior). */
export interface RerankDefaults {
  weight: number;
  alpha: number;
}

/** zod fields for --weight and --alpha, for a command's flags schema. */
export function rerankFlagFields(defaults: RerankDefaults) {
  return {
    weight: z.coerce.number().min(0).default(defaults.weight),
    alpha: z.coerce.number().min(0).max(2).default(defaults.alpha),
  };
}

/** Adds --weight and --alpha to a command; `score` names what the weight multiplies. */
export function addRerankOptions(command: Command, defaults: RerankDefaults, score: string): Command {
  return command
    .option("--weight <w>", `weight of the ${score} against the log-probability`, String(defaults.weight))
    .option(
      "--alpha <a>",
      "length normalisation of the log-probability when re-ranking",
      String(defaults.alpha),
    );
}

/** The decoder runtimes --runtime takes (model/load.ts RUNTIMES; kept here so --help loads no model code). */
export const RUNTIME_NAMES = ["onnx", "tfjs"] as const;

/** zod field for --runtime. */
export const runtimeFlagField = z.enum(RUNTIME_NAMES).optional();

/** --runtime for a command that captions: `.option(...RUNTIME_OPTION)`. */
export const RUNTIME_OPTION = [
  "--runtime <name>",
  "where the decoder runs: onnx (onnxruntime graphs, built once and cached; the default) or tfjs (the reference)",
] as const;

/** --runtime's value, checked (for commands that parse flags without a zod schema). */
export function parseRuntime(value: string): (typeof RUNTIME_NAMES)[number] {
  const parsed = runtimeFlagField.safeParse(value);
  if (!parsed.success || parsed.data === undefined)
    throw new Error(`--runtime must be one of ${RUNTIME_NAMES.join(", ")}, got "${value}"`);
  return parsed.data;
}

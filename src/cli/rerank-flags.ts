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

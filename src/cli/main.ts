import { Command } from "commander";
import { register as augmentPreview } from "./commands/augment-preview.js";
import { register as caption } from "./commands/caption.js";
import { register as dataset } from "./commands/dataset.js";
import { register as ensemble } from "./commands/ensemble.js";
import { register as evaluate } from "./commands/evaluate.js";
import { register as evaluateRetrieval } from "./commands/evaluate-retrieval.js";
import { register as exportModel } from "./commands/export.js";
import { register as features } from "./commands/features.js";
import { register as index } from "./commands/index.js";
import { register as memory } from "./commands/memory.js";
import { register as prior } from "./commands/prior.js";
import { register as reproduce } from "./commands/reproduce.js";
import { register as score } from "./commands/score.js";
import { register as search } from "./commands/search.js";
import { register as serve } from "./commands/serve.js";
import { register as train } from "./commands/train.js";
import { register as worker } from "./commands/worker.js";

/** Commands in pipeline order; each file only parses flags and calls the library. */
const commands = [
  dataset,
  augmentPreview,
  features,
  train,
  exportModel,
  ensemble,
  memory,
  prior,
  reproduce,
  caption,
  evaluate,
  score,
  serve,
  index,
  worker,
  search,
  evaluateRetrieval,
];

export function buildProgram(): Command {
  const program = new Command("captionkit")
    .description("Build, evaluate and serve image-captioning models, offline.")
    .version("0.1.0")
    .showHelpAfterError();
  for (const registerCommand of commands) registerCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}

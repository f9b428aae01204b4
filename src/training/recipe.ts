import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic.js";
import { packageRoot } from "../core/paths.js";
import type { ProgressFactory } from "../core/progress.js";
import { checkDatasetFile } from "../data/load.js";
import type { EncoderRuntime } from "../encoders/registry.js";
import { MARKER_FILE, type RecipeStep, runStep, type StepOutputs } from "./recipe-steps.js";

export type {
  EnsembleStep,
  FeaturesStep,
  MemoryStep,
  PriorStep,
  RecipeStep,
  StepOutputs,
  TrainStep,
} from "./recipe-steps.js";
export { MARKER_FILE } from "./recipe-steps.js";

/*
 * A recipe: the steps that make a model from a captioned dataset, in order (feature extraction, training
 * stages, ensemble, caption memory, n-gram prior). Each step writes into <out>/<name>/ and ends by
 * writing a marker there (MARKER_FILE); a step with its marker is skipped, one without is run again,
 * resuming where it stopped (extraction keeps its committed chunks, training continues from last.ckpt,
 * the memory from its partial vectors). The steps are plain data: DEFAULT_RECIPE (recipe-default.ts)
 * is the shipped default model's, tests pass miniature ones.
 */

export interface RecipeOptions {
  /** Captions file with train and val splits (any format `loadDataset` reads). */
  dataset: string;
  /** The recipe's folder: one subfolder per step. */
  out: string;
  /** Folder that the dataset's relative image paths resolve against. */
  images?: string;
  /** One line per step: running, done, skipped (with times). Default: stderr. */
  report?: (line: string) => void;
  /** The steps' own log lines (training progress, warnings). Default: stderr. */
  log?: (line: string) => void;
  progress?: ProgressFactory;
  /** Stops the recipe at the next training step, feature chunk or memory batch; rerun to resume. */
  signal?: AbortSignal;
  /** Feature extraction settings (defaults: extractFeatures'). */
  extract?: { runtime?: EncoderRuntime; workers?: number };
  /** Folder that relative preset paths resolve against. Default: the package root (configs/ is there). */
  presetRoot?: string;
}

export interface RecipeStepResult {
  name: string;
  status: "skipped" | "done";
  seconds: number;
  dir: string;
}

export interface RecipeResult {
  steps: RecipeStepResult[];
  /** The folder of the last step that makes a model (the finished model). */
  model?: string;
}

interface Marker {
  format: "captionkit-recipe-step";
  version: 1;
  name: string;
  /** The step's definition and inputs: a folder made by another definition is not silently reused. */
  definition: unknown;
  seconds: number;
  finishedAt: string;
  outputs: StepOutputs;
}

/** Checks that names are unique folder names and every reference names an earlier step of the right kind. */
export function checkRecipe(steps: readonly RecipeStep[]): void {
  const kinds = new Map<string, RecipeStep["kind"]>();
  const need = (step: RecipeStep, ref: string, allowed: RecipeStep["kind"][]) => {
    const kind = kinds.get(ref);
    if (!kind || !allowed.includes(kind))
      throw new Error(
        `recipe step ${step.name} reads "${ref}", which is not an earlier ${allowed.join(" or ")} step`,
      );
  };
  for (const step of steps) {
    if (!/^[A-Za-z0-9][\w.-]*$/.test(step.name) || kinds.has(step.name))
      throw new Error(`recipe step name "${step.name}" must be unique and a plain folder name`);
    if (step.kind === "train") {
      if (step.features.length === 0) throw new Error(`recipe step ${step.name} reads no features`);
      for (const ref of step.features) need(step, ref, ["features"]);
      if (step.initFrom) need(step, step.initFrom, ["train"]);
    } else if (step.kind === "ensemble") {
      if (step.members.length < 2) throw new Error(`recipe step ${step.name}: an ensemble needs two members`);
      for (const ref of step.members) need(step, ref, ["train"]);
    } else if (step.kind === "memory") {
      need(step, step.model, ["train", "ensemble", "prior"]);
    } else if (step.kind === "prior") {
      need(step, step.model, ["train", "ensemble"]);
      need(step, step.memory, ["memory"]);
    }
    kinds.set(step.name, step.kind);
  }
}

/** Marker outputs are kept relative to the step's folder, so a recipe folder can be moved. */
function mapOutputs(outputs: StepOutputs, map: (file: string) => string): StepOutputs {
  return Object.fromEntries(Object.entries(outputs).map(([key, file]) => [key, map(file as string)]));
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  const file = path.join(dir, MARKER_FILE);
  if (!existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, "utf8")) as Marker;
}

/** "1 h 02 min", "3 min 05 s", "12 s". */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** Which steps of a recipe are done in `out` (for a dry run). */
export async function recipeStatus(
  steps: readonly RecipeStep[],
  out: string,
): Promise<{ name: string; done: boolean; seconds?: number }[]> {
  checkRecipe(steps);
  return Promise.all(
    steps.map(async (step) => {
      const marker = await readMarker(path.join(path.resolve(out), step.name));
      return { name: step.name, done: marker !== undefined, ...(marker ? { seconds: marker.seconds } : {}) };
    }),
  );
}

/**
 * Runs the steps in order into `options.out`, skipping those whose marker is there and resuming the
 * one that was interrupted. Throws (leaving every finished step in place) when a step fails or the
 * signal aborts.
 */
export async function runRecipe(steps: readonly RecipeStep[], options: RecipeOptions): Promise<RecipeResult> {
  checkRecipe(steps);
  const report = options.report ?? ((line: string) => process.stderr.write(`${line}\n`));
  const out = path.resolve(options.out);
  const inputs = {
    dataset: path.resolve(options.dataset),
    ...(options.images ? { images: path.resolve(options.images) } : {}),
  };
  await checkDatasetFile(options.dataset); // before any step says it is running
  const outputs = new Map<string, StepOutputs>();
  const results: RecipeStepResult[] = [];
  const width = String(steps.length).length;
  let model: string | undefined;
  for (const [i, step] of steps.entries()) {
    const dir = path.join(out, step.name);
    const label = `[${String(i + 1).padStart(width)}/${steps.length}] ${step.name}`;
    const definition = JSON.parse(JSON.stringify({ step, ...inputs }));
    const marker = await readMarker(dir);
    if (marker) {
      if (JSON.stringify(marker.definition) !== JSON.stringify(definition))
        throw new Error(
          `${dir} was made by another definition of step ${step.name} or from another dataset: remove the folder to redo the step`,
        );
      report(`${label}: skipped (done, took ${formatSeconds(marker.seconds)})`);
      outputs.set(
        step.name,
        mapOutputs(marker.outputs, (file) => path.resolve(dir, file)),
      );
      results.push({ name: step.name, status: "skipped", seconds: marker.seconds, dir });
    } else {
      options.signal?.throwIfAborted();
      const started = performance.now();
      const resuming = existsSync(dir);
      report(`${label}: running${resuming ? " (continuing an interrupted run)" : ""}`);
      const stepOutputs = await runStep(step, dir, {
        ...options,
        ...inputs,
        presetRoot: options.presetRoot ?? packageRoot(),
        outputs,
        log: options.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
      });
      const seconds = (performance.now() - started) / 1000;
      const written: Marker = {
        format: "captionkit-recipe-step",
        version: 1,
        name: step.name,
        definition,
        seconds,
        finishedAt: new Date().toISOString(),
        outputs: mapOutputs(stepOutputs, (file) => path.relative(dir, file) || "."),
      };
      await writeFileAtomic(path.join(dir, MARKER_FILE), `${JSON.stringify(written, null, 2)}\n`);
      report(`${label}: done in ${formatSeconds(seconds)}`);
      outputs.set(step.name, stepOutputs);
      results.push({ name: step.name, status: "done", seconds, dir });
    }
    if (outputs.get(step.name)?.model) model = outputs.get(step.name)?.model;
  }
  return { steps: results, ...(model ? { model } : {}) };
}

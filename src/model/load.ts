import path from "node:path";
import { defaultModelDir } from "../core/paths.js";
import { TfjsRuntime } from "../decoders/tfjs-runtime.js";
import { CaptionModel, type Reranking } from "../generation/caption-model.js";
import type { CaptionMemory } from "../rerank/caption-memory.js";
import { loadCaptionMemory } from "../rerank/memory-io.js";
import { hasNgramPrior, loadNgramPrior } from "../rerank/ngram-prior-io.js";
import { initTfjs } from "../tfjs/init.js";
import { loadEnsemble } from "./ensemble.js";
import { ENSEMBLE_FORMAT, type LoadedModel } from "./format.js";
import { loadSingleModel, readModelJson } from "./single.js";

/**
 * Loads a model folder: a single model written by saveModel (decoder with its weights, vocabulary and
 * metadata), or an ensemble folder written by saveEnsemble (its members' decoders averaged).
 */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const json = await readModelJson(dir);
  const format = (json as { format?: unknown } | null)?.format;
  if (format === ENSEMBLE_FORMAT) return loadEnsemble(dir, json);
  return loadSingleModel(dir, json);
}

/**
 * What re-ranks the beams: "prior" (default) takes the model folder's n-gram prior when it has one,
 * `{ memory: dir }` a caption memory built for this model, "none" nothing.
 */
export type RankingChoice = "prior" | "none" | { memory: string };

export interface LoadCaptionModelOptions {
  /** Default "prior". */
  ranking?: RankingChoice;
}

/**
 * The one loader of a caption model: the folder (default: the shipped models/default), its decoder on
 * a runtime, and its re-ranker. Every entry point (captioner, evaluation, index, search, memory, prior)
 * comes through here.
 */
export async function loadCaptionModel(
  dir: string = defaultModelDir(),
  options: LoadCaptionModelOptions = {},
): Promise<CaptionModelFolder> {
  await initTfjs();
  const folder = path.resolve(dir);
  const model = await loadModel(folder);
  try {
    const reranking = await loadReranking(model, folder, options.ranking ?? "prior");
    const info = { name: model.meta.name, encoder: model.meta.encoder, weightsDigest: model.weightsDigest };
    return new CaptionModelFolder(new TfjsRuntime(model.decoder, true), model, folder, info, reranking);
  } catch (err) {
    model.decoder.dispose();
    throw err;
  }
}

/** A CaptionModel loaded from a folder: it also carries the folder and model.json's metadata. */
export class CaptionModelFolder extends CaptionModel {
  constructor(
    runtime: TfjsRuntime,
    readonly loaded: LoadedModel,
    readonly dir: string,
    info: CaptionModel["info"],
    reranking: Reranking,
  ) {
    super(runtime, loaded.vocabulary, info, reranking);
  }

  get meta(): LoadedModel["meta"] {
    return this.loaded.meta;
  }
}

/**
 * The re-ranking a model gets: the caption memory when one is chosen, else the model's own n-gram prior
 * when it has one and ranking is not "none". Either must have been made for this model.
 */
export async function loadReranking(
  model: LoadedModel,
  modelDir: string,
  ranking: RankingChoice,
): Promise<Reranking> {
  if (typeof ranking === "object")
    return { ranker: await loadMemoryFor(model, ranking.memory), label: `memory ${ranking.memory}` };
  if (ranking === "none" || !hasNgramPrior(modelDir)) return {};
  const loaded = await loadNgramPrior(modelDir);
  if (loaded.weights !== model.weightsDigest)
    throw new Error(
      `the n-gram prior in ${modelDir} was fitted for model ${loaded.model} with other weights (${loaded.weights.slice(0, 12)}, not ${model.weightsDigest.slice(0, 12)} of ${model.meta.name}): fit it again with \`captionkit prior\`, or pass --no-prior`,
    );
  return { ranker: loaded.prior, label: "n-gram prior" };
}

/**
 * Loads a caption memory for this model. A memory holds one model's image vectors: any other model's
 * vectors live in another space, so a memory built for another model is refused.
 */
export async function loadMemoryFor(model: LoadedModel, memoryDir: string): Promise<CaptionMemory> {
  const memory = await loadCaptionMemory(memoryDir);
  if (memory.model !== model.meta.name || memory.encoder !== model.meta.encoder) {
    throw new Error(
      `caption memory ${memoryDir} was built for model ${memory.model} (${memory.encoder}), not ${model.meta.name} (${model.meta.encoder}): build one for this model with \`captionkit memory\``,
    );
  }
  return memory.memory;
}

/** The ranking choice the CLI flags and library options spell as { memoryDir, prior }. */
export function rankingOf(options: { memoryDir?: string; prior?: boolean }): RankingChoice {
  if (options.memoryDir) return { memory: options.memoryDir };
  return options.prior === false ? "none" : "prior";
}

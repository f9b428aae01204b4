import path from "node:path";
import { defaultModelDir } from "../core/paths.js";
import type { DecoderRuntime } from "../decoders/runtime.js";
import { TfjsRuntime } from "../decoders/tfjs-runtime.js";
import type { CaptionDecoder } from "../decoders/types.js";
import { CaptionModel, type Reranking } from "../generation/caption-model.js";
import type { CaptionMemory } from "../rerank/caption-memory.js";
import { loadCaptionMemory } from "../rerank/memory-io.js";
import { hasNgramPrior, loadNgramPrior } from "../rerank/ngram-prior-io.js";
import { initTfjs } from "../tfjs/init.js";
import { loadEnsemble, readEnsemble } from "./ensemble.js";
import {
  ENSEMBLE_FORMAT,
  ensembleFileSchema,
  type LoadedModel,
  type ModelDescription,
  type ModelMeta,
} from "./format.js";
import { loadSingleModel, type ReadModel, readModelJson, readSingleModel } from "./single.js";

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

/** Where the decoder runs: onnxruntime graphs (fast; the default for inference) or tfjs (the reference). */
export type RuntimeChoice = "onnx" | "tfjs";

export const RUNTIMES: readonly RuntimeChoice[] = ["onnx", "tfjs"];

export interface LoadCaptionModelOptions {
  /** Default "prior". */
  ranking?: RankingChoice;
  /** Default "onnx". */
  runtime?: RuntimeChoice;
  /** Where built ONNX graphs are cached (runtime "onnx"). Default: see defaultOnnxCacheDir(). */
  onnxCacheDir?: string;
}

/**
 * The one loader of a caption model: the folder (default: the shipped models/default), its decoder on
 * a runtime, and its re-ranker. Every entry point (captioner, evaluation, index, search, memory, prior)
 * comes through here. With the onnx runtime the decoder is built on tfjs only the first time, to make
 * the graphs; later loads read the cached graphs.
 */
export async function loadCaptionModel(
  dir: string = defaultModelDir(),
  options: LoadCaptionModelOptions = {},
): Promise<CaptionModelFolder> {
  const folder = path.resolve(dir);
  const runtime = options.runtime ?? "onnx";
  if (!RUNTIMES.includes(runtime))
    throw new Error(`unknown runtime "${String(runtime)}"; use one of ${RUNTIMES.join(", ")}`);
  if (runtime === "tfjs") {
    await initTfjs();
    const model = await loadModel(folder);
    try {
      const reranking = await loadReranking(model, folder, options.ranking ?? "prior");
      return new CaptionModelFolder(
        new TfjsRuntime(model.decoder, true),
        model,
        folder,
        reranking,
        model.decoder,
      );
    } catch (err) {
      model.decoder.dispose();
      throw err;
    }
  }
  const model = await describeModel(folder);
  const reranking = await loadReranking(model, folder, options.ranking ?? "prior");
  const { createOnnxRuntime } = await import("../decoders/onnx/index.js");
  const onnx = await createOnnxRuntime(
    {
      members: model.members,
      load: async () => {
        await initTfjs();
        return (await loadModel(folder)).decoder;
      },
    },
    {
      weightsDigest: model.weightsDigest,
      ...(options.onnxCacheDir ? { cacheDir: options.onnxCacheDir } : {}),
    },
  );
  return new CaptionModelFolder(onnx, model, folder, reranking);
}

/**
 * The folder whose model scores text for generative search: an ensemble's `searchScorer` member when
 * it names one, else the folder itself.
 */
export async function searchScorerDir(dir: string): Promise<string> {
  const json = await readModelJson(dir);
  if ((json as { format?: unknown } | null)?.format !== ENSEMBLE_FORMAT) return dir;
  const parsed = ensembleFileSchema.safeParse(json);
  const member = parsed.success ? parsed.data.searchScorer : undefined;
  return member ? path.resolve(dir, member) : dir;
}

/** Reads and checks a model folder (single or ensemble) without building its decoder. */
export async function describeModel(dir: string): Promise<ModelDescription> {
  const json = await readModelJson(dir);
  const format = (json as { format?: unknown } | null)?.format;
  const spec = (m: ReadModel) => ({ config: m.file.decoder, shape: m.file.shape });
  if (format === ENSEMBLE_FORMAT) {
    const read = await readEnsemble(dir, json, (member) => readSingleModel(member));
    return { ...read, members: read.members.map(spec) };
  }
  const read = await readSingleModel(dir, json);
  return {
    vocabulary: read.vocabulary,
    meta: read.meta,
    weightsDigest: read.weightsDigest,
    members: [spec(read)],
  };
}

/** A CaptionModel loaded from a folder: it also carries the folder and model.json's metadata. */
export class CaptionModelFolder extends CaptionModel {
  constructor(
    runtime: DecoderRuntime,
    readonly description: Omit<ModelDescription, "members">,
    readonly dir: string,
    reranking: Reranking,
    /** The decoder on tfjs, when that is the runtime (training tools read its structure). */
    readonly decoder?: CaptionDecoder,
  ) {
    super(
      runtime,
      description.vocabulary,
      {
        name: description.meta.name,
        encoder: description.meta.encoder,
        weightsDigest: description.weightsDigest,
      },
      reranking,
    );
  }

  get meta(): ModelMeta {
    return this.description.meta;
  }
}

/**
 * The re-ranking a model gets: the caption memory when one is chosen, else the model's own n-gram prior
 * when it has one and ranking is not "none". Either must have been made for this model.
 */
export async function loadReranking(
  model: Pick<LoadedModel, "meta" | "weightsDigest">,
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
export async function loadMemoryFor(
  model: Pick<LoadedModel, "meta">,
  memoryDir: string,
): Promise<CaptionMemory> {
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

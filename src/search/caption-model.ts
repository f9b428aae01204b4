import path from "node:path";
import { ptbTokenize } from "../data/ptb-tokenizer.js";
import type { Vocabulary } from "../data/vocabulary.js";
import { imageVectorRows } from "../decoders/image-vectors.js";
import { loadModel } from "../decoders/model-io.js";
import type { CaptionDecoder, DecoderInputs } from "../decoders/types.js";
import { captionFeatures } from "../generation/caption.js";
import { defaultModelDir, loadReranking } from "../generation/captioner.js";
import { captionLogProbs } from "../generation/likelihood.js";
import type { ProposalRanker } from "../generation/rerank.js";
import type { CaptionResult } from "../generation/types.js";
import { initBackend, tf } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import type { ImageFeatures } from "./pipeline.js";
import type { CaptionScorer } from "./rankers/generative.js";

/** Beam width for index captions: the CLI's default, so `index` and `caption` agree (mirroring aside). */
const INDEX_BEAM = 3;

/** A caption model that captions from encoder features (the index computes the features itself). */
export interface FeatureCaptioner extends CaptionScorer {
  /** Model id recorded in the index. */
  readonly name: string;
  /** Folder the model was loaded from. */
  readonly dir: string;
  /** Grid regions, channels and pooled width the decoder reads. */
  readonly shape: { regions: number; featureDim: number; pooledDim: number };
  caption(features: readonly ImageFeatures[]): Promise<CaptionResult[]>;
}

/**
 * Loads a caption model folder (default: the shipped models/default) for the index and for generative
 * ranking. Decoding and likelihoods come from generation/, the only home of that code.
 */
export async function loadFeatureCaptioner(dir: string | undefined): Promise<FeatureCaptioner> {
  await initBackend("wasm");
  applyWasmKernelFixes();
  const folder = path.resolve(dir ?? defaultModelDir());
  const model = await loadModel(folder).catch((error: unknown) => {
    throw new Error(
      `cannot load the caption model in ${folder} (${error instanceof Error ? error.message : String(error)}); ` +
        "pass --model <folder with model.json>",
    );
  });
  // index captions are re-ranked by the model's n-gram prior, as `captionkit caption` does
  const { ranker } = await loadReranking(model, folder, {}).catch((error: unknown) => {
    model.decoder.dispose();
    throw error;
  });
  return new DecoderCaptioner(
    model.meta.name,
    folder,
    model.meta.encoder,
    model.decoder,
    model.vocabulary,
    ranker,
  );
}

/** The index records the caption model's folder; generative search loads that model again. */
export async function loadCaptionScorer(dir: string | undefined): Promise<CaptionScorer> {
  return loadFeatureCaptioner(dir);
}

class DecoderCaptioner implements FeatureCaptioner {
  constructor(
    readonly name: string,
    readonly dir: string,
    readonly encoder: string,
    readonly decoder: CaptionDecoder,
    private readonly vocabulary: Vocabulary,
    private readonly ranker?: ProposalRanker,
  ) {}

  get shape(): { regions: number; featureDim: number; pooledDim: number } {
    return this.decoder.shape;
  }

  async caption(features: readonly ImageFeatures[]): Promise<CaptionResult[]> {
    if (features.length === 0) return [];
    return withInputs(this.decoder, features, (inputs) => {
      const { ranker } = this;
      const vectors = ranker ? imageVectorRows(this.decoder, inputs) : [];
      return captionFeatures(this.decoder, this.vocabulary, inputs, {
        beam: INDEX_BEAM,
        alternatives: 0,
        ...(ranker
          ? { rerank: (image, proposals) => ranker.rank(proposals, vectors[image] as Float32Array) }
          : {}),
      });
    });
  }

  async score(text: string, images: readonly ImageFeatures[]): Promise<number[]> {
    if (images.length === 0) return [];
    const ids = this.tokenIds(text);
    return withInputs(this.decoder, images, (inputs) => [...captionLogProbs(this.decoder, inputs, ids)]);
  }

  /** Query words as token ids; unknown words stay <unk>, so a query full of them scores low, as it should. */
  tokenIds(text: string): number[] {
    const words = ptbTokenize(text).filter((w) => /[a-z0-9]/.test(w));
    return this.vocabulary.encode(words).slice(1, -1);
  }

  dispose(): void {
    this.decoder.dispose();
  }
}

function withInputs<T>(
  decoder: CaptionDecoder,
  features: readonly ImageFeatures[],
  run: (inputs: DecoderInputs) => T,
): T {
  const inputs = toInputs(decoder, features);
  try {
    return run(inputs);
  } finally {
    tf.dispose([inputs.grid, inputs.pooled]);
  }
}

/** Stored features as the decoder's input tensors (the caller disposes them). */
function toInputs(decoder: CaptionDecoder, features: readonly ImageFeatures[]): DecoderInputs {
  const { regions, featureDim, pooledDim } = decoder.shape;
  const n = features.length;
  const grid = new Float32Array(n * regions * featureDim);
  const pooled = new Float32Array(n * pooledDim);
  features.forEach((f, i) => {
    if (!f.grid || f.grid.length !== regions * featureDim) {
      throw new Error(
        `caption model needs ${regions}x${featureDim} grid features, got ${f.grid?.length ?? 0} values`,
      );
    }
    grid.set(f.grid, i * regions * featureDim);
    if (pooledDim > 0) pooled.set(f.pooled.subarray(0, pooledDim), i * pooledDim);
  });
  return {
    grid: tf.tensor3d(grid, [n, regions, featureDim]), // [images, regions, channels]
    pooled: tf.tensor2d(pooled, [n, pooledDim]), // [images, pooled]
  };
}

export interface CachedCaptionModel {
  name: string;
  /** Generated caption of every image, in id order. */
  captionAll(onBatch?: (done: number) => void): Promise<string[]>;
  score(text: string, images: readonly number[]): Promise<Float32Array>;
  dispose(): void;
}

/**
 * A caption model over cached features of a fixed image list (evaluation): the grids are read from the
 * feature cache once and kept as float32, so re-scoring candidates never touches the disk.
 */
export async function openCachedCaptionModel(
  dir: string | undefined,
  featuresRoot: string,
  ids: readonly string[],
): Promise<CachedCaptionModel> {
  const captioner = (await loadFeatureCaptioner(dir)) as DecoderCaptioner;
  const { featuresFromCache } = await import("./embedding/cached-pairs.js");
  const features = featuresFromCache(featuresRoot, captioner.encoder, ids);
  // All grids live in one tensor; a query gathers its candidates instead of copying them from JS.
  const all = toInputs(captioner.decoder, features);
  return {
    name: captioner.name,
    async captionAll(onBatch) {
      const out: string[] = [];
      for (let start = 0; start < features.length; start += 32) {
        const results = await captioner.caption(features.slice(start, start + 32));
        out.push(...results.map((r) => r.caption));
        onBatch?.(out.length);
      }
      return out;
    },
    async score(text, images) {
      const ids = captioner.tokenIds(text);
      const index = tf.tensor1d(Int32Array.from(images), "int32");
      const inputs = { grid: tf.gather(all.grid, index), pooled: tf.gather(all.pooled, index) };
      try {
        return captionLogProbs(captioner.decoder, inputs, ids);
      } finally {
        tf.dispose([index, inputs.grid, inputs.pooled]);
      }
    },
    dispose: () => {
      tf.dispose([all.grid, all.pooled]);
      captioner.dispose();
    },
  };
}

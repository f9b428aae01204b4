import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import type { Vocabulary } from "../data/vocabulary.js";
import { EnsembleDecoder } from "../decoders/ensemble.js";
import { imageVectorRows } from "../decoders/image-vectors.js";
import { type LoadedModel, loadModel, MODEL_FILE } from "../decoders/model-io.js";
import type { CaptionDecoder, DecoderInputs } from "../decoders/types.js";
import { createEncoder } from "../encoders/registry.js";
import type { Encoder } from "../encoders/types.js";
import { mirrorInto, type PreprocessSpec, preprocessBatch } from "../image/preprocess.js";
import { type BackendName, initBackend } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import { captionFeatures } from "./caption.js";
import type { CaptionMemory } from "./caption-memory.js";
import { loadCaptionMemory } from "./memory-io.js";
import { hasNgramPrior, loadNgramPrior } from "./ngram-prior-io.js";
import type { ProposalRanker, RankedProposal } from "./rerank.js";
import type { Captioner, CaptionOptions, CaptionResult } from "./types.js";

export interface LoadCaptionerOptions {
  /** Model folder (model.json + weights.bin). Default: `models/default` in the captionkit package. */
  modelDir?: string;
  /** tfjs backend. Default "wasm". */
  backend?: BackendName;
  /** Use this encoder instead of creating the one model.json names (tests, or sharing one encoder). */
  encoder?: Encoder;
  /** Images preprocessed and encoded at once. Default 16. */
  batchSize?: number;
  /**
   * Test-time mirroring: average the model's next-word probabilities over each image and its mirror
   * image (twice the encoder and decoder work). Default: the model folder's `mirror` setting.
   */
  mirror?: boolean;
  /**
   * Caption memory folder (`captionkit memory`): re-rank each image's beam by consensus with the
   * captions of the most similar memory images. It must have been built for this model, and it
   * replaces the model's n-gram prior. Default: none.
   */
  memoryDir?: string;
  /**
   * Re-rank each beam with the model's n-gram prior (ngram-prior.json in the model folder, from
   * `captionkit prior`) when it has one. Default true.
   */
  prior?: boolean;
}

/** What re-ranks a captioner's beams: a caption memory, the model's n-gram prior, or nothing. */
export interface Reranking {
  ranker?: ProposalRanker;
  /** "memory <dir>", "n-gram prior", or undefined: for reports. */
  label?: string;
}

/** Milliseconds spent per stage by the last caption() call. */
export interface CaptionTimings {
  preprocess: number;
  encode: number;
  generate: number;
}

export type SettledCaption =
  | { result: CaptionResult; error?: undefined }
  | { error: Error; result?: undefined };

/** The folder holding captionkit's package.json, from this file's location (works from src/ and dist/). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest)) {
      const name = (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name;
      if (name === "captionkit") return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find the captionkit package root above this module");
    dir = parent;
  }
}

export function defaultModelDir(): string {
  return path.join(packageRoot(), "models", "default");
}

/**
 * Loads a model folder and its encoder, and returns a Captioner: image files or bytes in, captions out.
 *
 * @example
 * const captioner = await loadCaptioner();
 * const [result] = await captioner.caption(["dog.jpg"], { beam: 3 });
 * console.log(result.caption, result.confidence); // "A dog runs on the grass." 0.41
 * captioner.dispose();
 */
export async function loadCaptioner(options: LoadCaptionerOptions = {}): Promise<ModelCaptioner> {
  const backend = options.backend ?? "wasm";
  await initBackend(backend);
  if (backend === "wasm") applyWasmKernelFixes();
  const dir = options.modelDir ?? defaultModelDir();
  if (!options.modelDir && !existsSync(path.join(dir, MODEL_FILE))) {
    throw new Error(
      `no default model at ${dir}: train one with \`captionkit train\` (it writes models/default) or pass --model <folder with model.json>`,
    );
  }
  const model = await loadModel(dir);
  let encoder: Encoder | undefined = options.encoder;
  try {
    encoder ??= await createEncoder(model.meta.encoder);
    checkCompatible(model, encoder, dir);
  } catch (err) {
    model.decoder.dispose();
    if (encoder && encoder !== options.encoder) encoder.dispose();
    throw err;
  }
  let reranking: Reranking;
  try {
    reranking = await loadReranking(model, dir, options);
  } catch (err) {
    model.decoder.dispose();
    if (encoder !== options.encoder) encoder.dispose();
    throw err;
  }
  return new ModelCaptioner(
    model,
    encoder,
    options.encoder === undefined,
    options.batchSize ?? 16,
    options.mirror ?? model.meta.mirror ?? false,
    reranking,
  );
}

/**
 * The re-ranking a model gets: the caption memory when one is given, else the model's own n-gram prior
 * when it has one and `prior` is not false, else none. Either must have been made for this model.
 */
export async function loadReranking(
  model: LoadedModel,
  modelDir: string,
  options: { memoryDir?: string; prior?: boolean },
): Promise<Reranking> {
  if (options.memoryDir)
    return { ranker: await loadMemoryFor(model, options.memoryDir), label: `memory ${options.memoryDir}` };
  if (options.prior === false || !hasNgramPrior(modelDir)) return {};
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

function checkCompatible(model: LoadedModel, encoder: Encoder, dir: string): void {
  const [gridH, gridW, channels] = encoder.gridShape;
  const { regions, featureDim, pooledDim } = model.decoder.shape;
  if (
    gridH * gridW !== regions ||
    channels !== featureDim ||
    (pooledDim > 0 && encoder.pooledSize !== pooledDim)
  ) {
    throw new Error(
      `model ${dir} expects ${regions} regions x ${featureDim} channels (pooled ${pooledDim}) but encoder ` +
        `${encoder.name} gives ${gridH}x${gridW}x${channels} (pooled ${encoder.pooledSize})`,
    );
  }
}

export class ModelCaptioner implements Captioner {
  readonly modelName: string;
  readonly decoder: CaptionDecoder;
  readonly vocabulary: Vocabulary;
  readonly encoder: Encoder;
  readonly preprocessing: PreprocessSpec;
  /** model.json's metrics and training records. */
  readonly model: LoadedModel;
  lastTimings: CaptionTimings = { preprocess: 0, encode: 0, generate: 0 };
  /** The model read over [plain features | mirror features] when mirroring (shares the model's weights). */
  private readonly mirrored?: CaptionDecoder;

  constructor(
    model: LoadedModel,
    encoder: Encoder,
    private readonly ownsEncoder: boolean,
    private readonly batchSize: number,
    /** Test-time mirroring (LoadCaptionerOptions.mirror). */
    readonly mirror = false,
    /** Re-ranking of each beam (LoadCaptionerOptions.memoryDir and prior). */
    readonly reranking: Reranking = {},
  ) {
    this.model = model;
    this.modelName = model.meta.name;
    this.decoder = model.decoder;
    if (mirror) this.mirrored = new EnsembleDecoder([model.decoder, model.decoder]);
    this.vocabulary = model.vocabulary;
    this.encoder = encoder;
    this.preprocessing = model.meta.preprocessing;
  }

  /** One result per image, in order; rejects with the first unreadable image's error. */
  async caption(
    images: ReadonlyArray<string | Uint8Array>,
    options: CaptionOptions = {},
  ): Promise<CaptionResult[]> {
    const settled = await this.captionSettled(images, options);
    return settled.map((s) => {
      if (s.error) throw s.error;
      return s.result as CaptionResult;
    });
  }

  /** Like caption(), but an unreadable image yields { error } in its slot and the others still run. */
  async captionSettled(
    images: ReadonlyArray<string | Uint8Array>,
    options: CaptionOptions = {},
  ): Promise<SettledCaption[]> {
    const timings: CaptionTimings = { preprocess: 0, encode: 0, generate: 0 };
    const out: SettledCaption[] = [];
    for (let start = 0; start < images.length; start += this.batchSize) {
      const batch = images.slice(start, start + this.batchSize);
      const views = this.mirrored ? 2 : 1;
      const { errors, inputs } = await this.encodeBatch(batch, views, timings, options.maxPixels);
      let results: CaptionResult[] = [];
      if (inputs) {
        const t0 = performance.now();
        try {
          const [gridH, gridW] = this.encoder.gridShape;
          let rerank: ((image: number, proposals: RankedProposal[]) => number[]) | undefined;
          const { ranker } = this.reranking;
          if (ranker) {
            const vectors = this.plainVectors(inputs, views);
            rerank = (image, proposals) => ranker.rank(proposals, vectors[image] as Float32Array);
          }
          results = captionFeatures(this.mirrored ?? this.decoder, this.vocabulary, inputs, {
            ...options,
            attentionGrid: [gridH, gridW],
            ...(rerank ? { rerank } : {}),
          });
        } finally {
          tf.dispose([inputs.grid, inputs.pooled]);
        }
        timings.generate += performance.now() - t0;
      }
      let next = 0;
      batch.forEach((_, i) => {
        const error = errors[i];
        out.push(error ? { error } : { result: results[next++] as CaptionResult });
      });
    }
    this.lastTimings = timings;
    return out;
  }

  /**
   * The model's per-image vectors (imageVectors: pooled features after any feature head) of the plain
   * images, never mirrored: what a caption memory indexes and an n-gram prior reads. Rejects on the first unreadable image.
   */
  async imageVectors(images: ReadonlyArray<string | Uint8Array>): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const timings: CaptionTimings = { preprocess: 0, encode: 0, generate: 0 };
    for (let start = 0; start < images.length; start += this.batchSize) {
      const batch = images.slice(start, start + this.batchSize);
      const { errors, inputs } = await this.encodeBatch(batch, 1, timings);
      const error = errors.find((e) => e !== undefined);
      if (inputs) {
        if (!error) out.push(...this.plainVectors(inputs, 1));
        tf.dispose([inputs.grid, inputs.pooled]);
      }
      if (error) throw error;
    }
    return out;
  }

  /** Rows of imageVectors for the plain view of encodeBatch's inputs ([plain | mirror] channels when views is 2). */
  private plainVectors(inputs: DecoderInputs, views: number): Float32Array[] {
    if (views === 1) return imageVectorRows(this.decoder, inputs);
    const plain: DecoderInputs = tf.tidy(() => ({
      grid: tf.split(inputs.grid, 2, 2)[0] as tf.Tensor3D,
      pooled: tf.split(inputs.pooled, 2, 1)[0] as tf.Tensor2D,
    }));
    try {
      return imageVectorRows(this.decoder, plain);
    } finally {
      tf.dispose([plain.grid, plain.pooled]);
    }
  }

  /**
   * Decodes, preprocesses and encodes a batch: decoder inputs for the readable images (views side by
   * side on the channel axis: [plain | mirror]), and per input slot its error, if unreadable.
   */
  private async encodeBatch(
    batch: ReadonlyArray<string | Uint8Array>,
    views: number,
    timings: CaptionTimings,
    maxPixels?: number,
  ): Promise<{ errors: Array<Error | undefined>; inputs?: DecoderInputs }> {
    let t0 = performance.now();
    const prepared = await preprocessBatch(batch, {
      ...(maxPixels === undefined ? {} : { maxPixels }),
      size: this.preprocessing.size,
      normalization: this.preprocessing.normalization,
      fit: this.preprocessing.fit,
    });
    const ok = batch.flatMap((_, i) => (prepared.errors[i] ? [] : [i]));
    const per = this.preprocessing.size * this.preprocessing.size * 3;
    // [plain images | their mirror images]: one encoder call for both views
    const pixels = new Float32Array(views * ok.length * per);
    ok.forEach((i, row) => {
      pixels.set(prepared.data.subarray(i * per, (i + 1) * per), row * per);
    });
    if (views === 2) mirrorInto(pixels, ok.length, this.preprocessing.size, pixels.subarray(ok.length * per));
    timings.preprocess += performance.now() - t0;
    if (ok.length === 0) return { errors: prepared.errors };
    t0 = performance.now();
    const encoded = await this.encoder.encode(pixels, views * ok.length);
    timings.encode += performance.now() - t0;
    const [gridH, gridW, channels] = this.encoder.gridShape;
    const pooledSize = this.encoder.pooledSize;
    const inputs = tf.tidy(() => {
      const grid = tf.tensor3d(encoded.grid, [views * ok.length, gridH * gridW, channels]); // [views*batch, regions, channels]
      const pooled = tf.tensor2d(encoded.pooled, [views * ok.length, pooledSize]); // [views*batch, pooled]
      if (views === 1) return { grid, pooled };
      // views side by side on the channel axis, as the mirrored ensemble reads them
      const [gridPlain, gridMirror] = tf.split(grid, 2, 0);
      const [pooledPlain, pooledMirror] = tf.split(pooled, 2, 0);
      return {
        grid: tf.concat([gridPlain!, gridMirror!], 2) as tf.Tensor3D,
        pooled: tf.concat([pooledPlain!, pooledMirror!], 1) as tf.Tensor2D,
      };
    });
    return { errors: prepared.errors, inputs };
  }

  dispose(): void {
    this.decoder.dispose();
    if (this.ownsEncoder) this.encoder.dispose();
  }
}

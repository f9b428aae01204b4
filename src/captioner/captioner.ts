import { existsSync } from "node:fs";
import path from "node:path";
import { defaultModelDir } from "../core/paths.js";
import type { FeatureBatch } from "../decoders/runtime.js";
import { createEncoder } from "../encoders/registry.js";
import type { Encoder } from "../encoders/types.js";
import type { CaptionModel, Reranking } from "../generation/caption-model.js";
import type { Captioner, CaptionOptions, CaptionResult } from "../generation/types.js";
import { type PreprocessSpec, preprocessBatch } from "../image/preprocess.js";
import { MODEL_FILE } from "../model/format.js";
import { type CaptionModelFolder, loadCaptionModel, type RuntimeChoice, rankingOf } from "../model/load.js";
import type { BackendName } from "../tfjs/backend.js";
import { initTfjs } from "../tfjs/init.js";
import type { Settled } from "./settle.js";

export interface LoadCaptionerOptions {
  /** Model folder (model.json + weights.bin). Default: `models/default` in the captionkit package. */
  modelDir?: string;
  /** tfjs backend. Default "wasm". */
  backend?: BackendName;
  /** Where the decoder runs: "onnx" (default) or "tfjs" (the reference). */
  runtime?: RuntimeChoice;
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

/** Milliseconds spent per stage by the last caption() call. */
export interface CaptionTimings {
  preprocess: number;
  encode: number;
  generate: number;
}

/** One image's outcome: its caption, or why it could not be read. */
export type SettledCaption = Settled;

/**
 * Loads a model folder and its encoder, and returns a Captioner: image files or bytes in, captions out.
 *
 * @example
 * const captioner = await loadCaptioner();
 * const [result] = await captioner.caption(["dog.jpg"], { beam: 3 });
 * console.log(result.caption, result.confidence); // "A dog runs on the grass." 0.41
 * captioner.dispose();
 */
export async function loadCaptioner(options: LoadCaptionerOptions = {}): Promise<ImageCaptioner> {
  await initTfjs(options.backend ?? "wasm");
  const dir = options.modelDir ?? defaultModelDir();
  if (!options.modelDir && !existsSync(path.join(dir, MODEL_FILE))) {
    throw new Error(
      `no default model at ${dir}: train one with \`captionkit train\` (it writes models/default) or pass --model <folder with model.json>`,
    );
  }
  const model = await loadCaptionModel(dir, {
    ranking: rankingOf(options),
    ...(options.runtime ? { runtime: options.runtime } : {}),
  });
  let encoder: Encoder | undefined = options.encoder;
  try {
    encoder ??= await createEncoder(model.info.encoder);
    checkCompatible(model, encoder, dir);
  } catch (err) {
    model.dispose();
    if (encoder && encoder !== options.encoder) encoder.dispose();
    throw err;
  }
  return new ImageCaptioner(
    model,
    encoder,
    options.encoder === undefined,
    options.batchSize ?? 16,
    options.mirror ?? model.meta.mirror ?? false,
  );
}

function checkCompatible(model: CaptionModel, encoder: Encoder, dir: string): void {
  const [gridH, gridW, channels] = encoder.gridShape;
  const { regions, featureDim, pooledDim } = model.runtime.shape;
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

/**
 * Images in, captions out: decodes and preprocesses each image as the model was trained (image/),
 * encodes it, and hands the features to the CaptionModel. Test-time mirroring is a view policy: with it,
 * each image is encoded twice (as it is and mirrored) and the model averages the two views.
 */
/** Largest encoder input kept for reuse (values): two 448-pixel views of 4 photos. */
const SPARE_INPUT_MAX = 8 * 448 * 448 * 3;

export class ImageCaptioner implements Captioner {
  readonly modelName: string;
  readonly preprocessing: PreprocessSpec;
  lastTimings: CaptionTimings = { preprocess: 0, encode: 0, generate: 0 };
  /**
   * Encoder input buffers of small batches, reused: a new 4.8 MB buffer for one photo and its mirror at
   * 448 cost 0.5 ms of page faults, a tenth of its preprocessing. Taken out while in use, so concurrent
   * batches never share one.
   */
  private readonly spareInputs: Float32Array[] = [];

  constructor(
    readonly model: CaptionModelFolder,
    readonly encoder: Encoder,
    private readonly ownsEncoder: boolean,
    private readonly batchSize: number,
    /** Test-time mirroring (LoadCaptionerOptions.mirror). */
    readonly mirror = false,
  ) {
    this.modelName = model.info.name;
    this.preprocessing = model.meta.preprocessing;
  }

  /** Re-ranking of each beam (LoadCaptionerOptions.memoryDir and prior). */
  get reranking(): Reranking {
    return this.model.reranking;
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
    const [gridH, gridW] = this.encoder.gridShape;
    for (let start = 0; start < images.length; start += this.batchSize) {
      const batch = images.slice(start, start + this.batchSize);
      const { errors, views } = await this.encodeViews(
        batch,
        this.mirror ? 2 : 1,
        timings,
        options.maxPixels,
      );
      let results: CaptionResult[] = [];
      if (views.length > 0) {
        const t0 = performance.now();
        results = this.model.caption(views, { ...options, attentionGrid: [gridH, gridW] });
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
   * The model's per-image vectors (pooled features after any feature head) of the plain images, never
   * mirrored: what a caption memory indexes and an n-gram prior reads. Rejects on the first unreadable image.
   */
  async imageVectors(images: ReadonlyArray<string | Uint8Array>): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const timings: CaptionTimings = { preprocess: 0, encode: 0, generate: 0 };
    for (let start = 0; start < images.length; start += this.batchSize) {
      const batch = images.slice(start, start + this.batchSize);
      const { errors, views } = await this.encodeViews(batch, 1, timings);
      const error = errors.find((e) => e !== undefined);
      if (error) throw error;
      if (views[0]) out.push(...this.model.imageVectors(views[0]));
    }
    return out;
  }

  /**
   * Decodes, preprocesses and encodes a batch: one FeatureBatch per view of the readable images (the
   * images, then their mirror images), and per input slot its error, if unreadable.
   */
  async encodeViews(
    batch: ReadonlyArray<string | Uint8Array>,
    viewCount: number,
    timings: CaptionTimings = { preprocess: 0, encode: 0, generate: 0 },
    maxPixels?: number,
  ): Promise<{ errors: Array<Error | undefined>; views: FeatureBatch[] }> {
    const started = performance.now();
    const per = this.preprocessing.size ** 2 * 3;
    // [plain images | their mirror images]: one encoder call for both views, decoded in place
    const all = this.takeInput(viewCount * batch.length * per);
    try {
      return await this.encodeInto(all, batch, viewCount, timings, maxPixels, started);
    } finally {
      this.returnInput(all);
    }
  }

  private takeInput(length: number): Float32Array {
    const spare = this.spareInputs.findIndex((b) => b.length === length);
    return spare >= 0 ? this.spareInputs.splice(spare, 1)[0]! : new Float32Array(length);
  }

  private returnInput(buffer: Float32Array): void {
    if (buffer.length <= SPARE_INPUT_MAX && this.spareInputs.length < 2) this.spareInputs.push(buffer);
  }

  private async encodeInto(
    all: Float32Array,
    batch: ReadonlyArray<string | Uint8Array>,
    viewCount: number,
    timings: CaptionTimings,
    maxPixels: number | undefined,
    started: number,
  ): Promise<{ errors: Array<Error | undefined>; views: FeatureBatch[] }> {
    let t0 = started;
    const { size, normalization, fit } = this.preprocessing;
    const per = size * size * 3;
    const prepared = await preprocessBatch(batch, {
      ...(maxPixels === undefined ? {} : { maxPixels }),
      size,
      normalization,
      fit,
      out: all,
      mirror: viewCount === 2,
    });
    const ok = batch.flatMap((_, i) => (prepared.errors[i] ? [] : [i]));
    // close the gaps of unreadable images, view by view (rows only move down, so none is overwritten unread)
    for (let v = 0; v < viewCount; v++) {
      ok.forEach((i, row) => {
        const [from, to] = [(v * batch.length + i) * per, (v * ok.length + row) * per];
        if (from !== to) all.copyWithin(to, from, from + per);
      });
    }
    const pixels = all.subarray(0, viewCount * ok.length * per);
    timings.preprocess += performance.now() - t0;
    if (ok.length === 0) return { errors: prepared.errors, views: [] };
    t0 = performance.now();
    const encoded = await this.encoder.encode(pixels, viewCount * ok.length);
    timings.encode += performance.now() - t0;
    const { pooledDim } = this.model.runtime.shape;
    const gridWidth = encoded.grid.length / (viewCount * ok.length);
    const pooledWidth = encoded.pooled.length / (viewCount * ok.length);
    const views = Array.from({ length: viewCount }, (_, v): FeatureBatch => {
      const rows = [v * ok.length, (v + 1) * ok.length];
      const pooled = new Float32Array(ok.length * pooledDim);
      for (let r = 0; r < ok.length; r++) {
        const from = (rows[0]! + r) * pooledWidth;
        pooled.set(encoded.pooled.subarray(from, from + pooledDim), r * pooledDim);
      }
      return {
        count: ok.length,
        grid: encoded.grid.subarray(rows[0]! * gridWidth, rows[1]! * gridWidth),
        pooled,
      };
    });
    return { errors: prepared.errors, views };
  }

  dispose(): void {
    this.model.dispose();
    if (this.ownsEncoder) this.encoder.dispose();
  }
}

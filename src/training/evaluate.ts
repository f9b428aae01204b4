import { loadDataset } from "../data/load.js";
import { imageVectorRows } from "../decoders/image-vectors.js";
import { loadModel } from "../decoders/model-io.js";
import { openFeatureStore } from "../features/reader.js";
import { captionFeatures } from "../generation/caption.js";
import { loadCaptioner, loadReranking, type Reranking } from "../generation/captioner.js";
import type { RankedProposal } from "../generation/rerank.js";
import { type MetricFamily, type MetricScores, scoreCaptions } from "../metrics/score.js";
import { initBackend } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import { disposeInputs, featureBatch } from "./batches.js";
import { concatFeatureReaders } from "./feature-sources.js";

export interface EvaluateOptions {
  modelDir: string;
  /** Dataset spec (any format loadDataset reads). */
  dataset: string;
  split: string;
  images?: string;
  beam?: number;
  /** Block repeated n-grams of this size while decoding (0 = off; default: generation's default). */
  noRepeatNgram?: number;
  /** Length normalisation exponent of beam search (score = log p / length^alpha; default 0). */
  alpha?: number;
  /** First N images of the split (0 = all). */
  limit?: number;
  /** Test-time mirroring (default: the model folder's setting). Needs the images, not --features. */
  mirror?: boolean;
  /** Feature cache folder(s) matching the model's encoder; images are encoded when absent. */
  features?: string[];
  /** Caption memory folder built for this model: re-rank each beam by consensus (`captionkit memory`). */
  memoryDir?: string;
  /** Re-rank with the model's n-gram prior when it has one and no memory is given (default true). */
  prior?: boolean;
  metrics?: readonly MetricFamily[];
  /** Images per batch. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EvaluateResult {
  model: string;
  encoder: string;
  split: string;
  images: number;
  beam: number;
  /** Whether each image was captioned with its mirror image (test-time mirroring). */
  mirror: boolean;
  /** What re-ranked the beams ("n-gram prior", "memory <dir>"), if anything. */
  reranking?: string;
  metrics: MetricScores;
  /** Generated caption (sentence form) per image id. */
  captions: Map<string, string>;
  seconds: number;
}

/**
 * Captions a dataset split with a model folder and scores the captions against the split's references
 * with the COCO metrics. Reads a feature cache when given one (it must come from the model's encoder),
 * else encodes the images with the model's encoder.
 */
export async function evaluateModel(options: EvaluateOptions): Promise<EvaluateResult> {
  const started = performance.now();
  const beam = options.beam ?? 3;
  const batchSize = options.batchSize ?? 32;
  const dataset = await loadDataset(options.dataset, {
    split: options.split,
    images: options.images,
    checkImages: options.features === undefined,
  });
  let images = dataset.images;
  if (options.limit && options.limit > 0) images = images.slice(0, options.limit);
  if (images.length === 0) throw new Error(`split ${options.split} of ${options.dataset} has no images`);
  const captions = new Map<string, string>();
  let modelName: string;
  let encoderName: string;
  let mirror = false;
  let reranking: Reranking = {};
  if (options.features && options.features.length > 0) {
    await initBackend("wasm");
    applyWasmKernelFixes();
    const model = await loadModel(options.modelDir);
    const reader = concatFeatureReaders(options.features.map((dir) => openFeatureStore(dir)));
    if (reader.encoder !== model.meta.encoder) {
      reader.close();
      model.decoder.dispose();
      throw new Error(
        `feature cache is from ${reader.encoder} but the model uses ${model.meta.encoder}: pass matching --features or drop it`,
      );
    }
    if (options.mirror ?? model.meta.mirror) {
      reader.close();
      model.decoder.dispose();
      throw new Error(
        "this model captions each image with its mirror image (test-time mirroring), which a feature cache does not hold: drop --features, or pass --no-mirror to evaluate without mirroring",
      );
    }
    try {
      reranking = await loadReranking(model, options.modelDir, options);
    } catch (err) {
      reader.close();
      model.decoder.dispose();
      throw err;
    }
    modelName = model.meta.name;
    encoderName = model.meta.encoder;
    for (let start = 0; start < images.length; start += batchSize) {
      const chunk = images.slice(start, start + batchSize);
      const inputs = featureBatch(
        reader,
        chunk.map((image) => image.id),
      );
      let rerank: ((image: number, proposals: RankedProposal[]) => number[]) | undefined;
      const { ranker } = reranking;
      if (ranker) {
        const vectors = imageVectorRows(model.decoder, inputs);
        rerank = (image, proposals) => ranker.rank(proposals, vectors[image] as Float32Array);
      }
      const results = captionFeatures(model.decoder, model.vocabulary, inputs, {
        beam,
        alternatives: 0,
        noRepeatNgram: options.noRepeatNgram,
        alpha: options.alpha,
        ...(rerank ? { rerank } : {}),
      });
      disposeInputs(inputs);
      for (const [i, image] of chunk.entries()) captions.set(image.id, results[i]!.caption);
      options.onProgress?.(Math.min(start + batchSize, images.length), images.length);
    }
    reader.close();
    model.decoder.dispose();
  } else {
    const captioner = await loadCaptioner({
      modelDir: options.modelDir,
      batchSize,
      ...(options.mirror === undefined ? {} : { mirror: options.mirror }),
      ...(options.memoryDir ? { memoryDir: options.memoryDir } : {}),
      ...(options.prior === undefined ? {} : { prior: options.prior }),
    });
    modelName = captioner.modelName;
    encoderName = captioner.encoder.name;
    mirror = captioner.mirror;
    reranking = captioner.reranking;
    for (let start = 0; start < images.length; start += batchSize) {
      const chunk = images.slice(start, start + batchSize);
      const results = await captioner.caption(
        chunk.map((image) => image.path),
        { beam, alternatives: 0, noRepeatNgram: options.noRepeatNgram, alpha: options.alpha },
      );
      for (const [i, image] of chunk.entries()) captions.set(image.id, results[i]!.caption);
      options.onProgress?.(Math.min(start + batchSize, images.length), images.length);
    }
    captioner.dispose();
  }
  const references = new Map(images.map((image) => [image.id, image.captions]));
  const report = await scoreCaptions(captions, references, { metrics: options.metrics });
  return {
    model: modelName,
    encoder: encoderName,
    split: options.split,
    images: images.length,
    beam,
    mirror,
    ...(reranking.label ? { reranking: reranking.label } : {}),
    metrics: report.corpus,
    captions,
    seconds: (performance.now() - started) / 1000,
  };
}

import { loadCaptioner } from "../captioner/captioner.js";
import { loadDataset } from "../data/load.js";
import { readFeatureBatch } from "../features/batch.js";
import { concatFeatureReaders } from "../features/concat-reader.js";
import { openFeatureStore } from "../features/reader.js";
import { type MetricFamily, type MetricScores, scoreCaptions } from "../metrics/score.js";
import { type CaptionModelFolder, loadCaptionModel, type RuntimeChoice, rankingOf } from "../model/load.js";

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
  /** Decoder runtime: "onnx" (default) or "tfjs". */
  runtime?: RuntimeChoice;
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
  const generate = { beam, alternatives: 0, noRepeatNgram: options.noRepeatNgram, alpha: options.alpha };
  const progress = (done: number) => options.onProgress?.(Math.min(done, images.length), images.length);
  let model: CaptionModelFolder;
  let mirror = false;
  if (options.features && options.features.length > 0) {
    model = await loadCaptionModel(options.modelDir, {
      ranking: rankingOf(options),
      ...(options.runtime ? { runtime: options.runtime } : {}),
    });
    const reader = concatFeatureReaders(options.features.map((dir) => openFeatureStore(dir)));
    try {
      if (reader.encoder !== model.info.encoder)
        throw new Error(
          `feature cache is from ${reader.encoder} but the model uses ${model.info.encoder}: pass matching --features or drop it`,
        );
      if (options.mirror ?? model.meta.mirror)
        throw new Error(
          "this model captions each image with its mirror image (test-time mirroring), which a feature cache does not hold: drop --features, or pass --no-mirror to evaluate without mirroring",
        );
      for (let start = 0; start < images.length; start += batchSize) {
        const chunk = images.slice(start, start + batchSize);
        const batch = readFeatureBatch(
          reader,
          chunk.map((image) => image.id),
        );
        const results = model.caption([batch], generate);
        for (const [i, image] of chunk.entries()) captions.set(image.id, results[i]!.caption);
        progress(start + batchSize);
      }
    } catch (err) {
      model.dispose();
      throw err;
    } finally {
      reader.close();
    }
    model.dispose();
  } else {
    const captioner = await loadCaptioner({
      modelDir: options.modelDir,
      batchSize,
      ...(options.mirror === undefined ? {} : { mirror: options.mirror }),
      ...(options.memoryDir ? { memoryDir: options.memoryDir } : {}),
      ...(options.prior === undefined ? {} : { prior: options.prior }),
      ...(options.runtime ? { runtime: options.runtime } : {}),
    });
    model = captioner.model;
    mirror = captioner.mirror;
    for (let start = 0; start < images.length; start += batchSize) {
      const chunk = images.slice(start, start + batchSize);
      const results = await captioner.caption(
        chunk.map((image) => image.path),
        generate,
      );
      for (const [i, image] of chunk.entries()) captions.set(image.id, results[i]!.caption);
      progress(start + batchSize);
    }
    captioner.dispose();
  }
  const references = new Map(images.map((image) => [image.id, image.captions]));
  const report = await scoreCaptions(captions, references, { metrics: options.metrics });
  return {
    model: model.info.name,
    encoder: model.info.encoder,
    split: options.split,
    images: images.length,
    beam,
    mirror,
    ...(model.reranking.label ? { reranking: model.reranking.label } : {}),
    metrics: report.corpus,
    captions,
    seconds: (performance.now() - started) / 1000,
  };
}

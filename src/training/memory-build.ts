import { mkdir } from "node:fs/promises";
import path from "node:path";
import { loadCaptioner } from "../captioner/captioner.js";
import { loadDataset } from "../data/load.js";
import { ptbTokenize } from "../data/ptb-tokenizer.js";
import type { CaptionedImage } from "../data/types.js";
import { imageVectorParts } from "../decoders/image-vectors.js";
import { readFeatureBatch } from "../features/batch.js";
import { concatFeatureReaders } from "../features/concat-reader.js";
import { normalizeParts } from "../features/normalize-parts.js";
import { openFeatureStore } from "../features/reader.js";
import { loadCaptionModel } from "../model/load.js";
import {
  type CaptionMemoryData,
  DEFAULT_MEMORY_SETTINGS,
  type MemorySettings,
} from "../rerank/caption-memory.js";
import { type SaveMemoryOptions, saveCaptionMemory } from "../rerank/memory-io.js";
import { PartialVectors } from "./memory-partial.js";

export interface BuildMemoryOptions {
  modelDir: string;
  /** Captioned images whose captions become the memory (usually the model's training split). */
  dataset: string;
  split: string;
  images?: string;
  /** Feature cache folder(s) from the model's encoder: skips decoding and encoding the photos. */
  features?: string[];
  limit?: number;
  settings?: Partial<MemorySettings>;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  /**
   * Folder to keep the vectors computed so far in (memory.partial.*), so that a build that is stopped
   * continues where it was on the next run with the same model, dataset and split. Default: none.
   */
  resumeDir?: string;
  /** Called once when a run continues an earlier one, with the images already done. */
  onResume?: (done: number, total: number) => void;
}

export interface BuiltMemory {
  data: CaptionMemoryData;
  save: SaveMemoryOptions;
}

/**
 * Builds a caption memory for a model: the model's image vector for every captioned image of a
 * dataset split, and the images' own (tokenized) captions. The memory is the user's data: save it
 * outside the repository (it holds the dataset's caption text).
 */
export async function buildCaptionMemory(options: BuildMemoryOptions): Promise<BuiltMemory> {
  const batchSize = options.batchSize ?? 32;
  const dataset = await loadDataset(options.dataset, {
    split: options.split,
    images: options.images,
    checkImages: options.features === undefined,
  });
  let images = dataset.images.filter((image) => image.captions.length > 0);
  if (options.limit && options.limit > 0) images = images.slice(0, options.limit);
  if (images.length === 0)
    throw new Error(`split ${options.split} of ${options.dataset} has no captioned images`);
  const source = await openVectorSource(options, batchSize);
  const { parts, model, encoder } = source;
  const raw: Float32Array[] = [];
  try {
    const partial = options.resumeDir
      ? await PartialVectors.open(options.resumeDir, {
          model,
          encoder,
          dataset: path.resolve(options.dataset),
          split: options.split,
          images: images.length,
          first: images[0]!.id,
          last: images[images.length - 1]!.id,
        })
      : undefined;
    if (partial && partial.rows.length > 0) {
      raw.push(...partial.rows);
      options.onResume?.(raw.length, images.length);
    }
    for (let start = raw.length; start < images.length; start += batchSize) {
      const rows = await source.rows(images.slice(start, start + batchSize));
      await partial?.append(rows);
      raw.push(...rows);
      options.onProgress?.(raw.length, images.length);
    }
  } finally {
    source.close();
  }
  const width = raw[0]!.length;
  if (parts.reduce((a, b) => a + b, 0) !== width)
    throw new Error(`model ${model} gives ${width}-wide image vectors, not ${parts.join("+")}`);
  const mean = new Float32Array(width);
  for (const row of raw) for (let j = 0; j < width; j++) mean[j]! += row[j]! / raw.length;
  const vectors = new Float32Array(raw.length * width);
  raw.forEach((row, i) => {
    vectors.set(normalizeParts(row, mean, parts), i * width);
  });
  return {
    data: {
      parts,
      mean,
      vectors,
      captions: images.map((image) => image.captions.map((caption) => ptbTokenize(caption))),
      settings: { ...DEFAULT_MEMORY_SETTINGS, ...options.settings },
    },
    save: {
      model,
      encoder,
      ids: images.map((image) => image.id),
      source: { dataset: options.dataset, split: options.split, images: images.length },
    },
  };
}

/**
 * Builds a memory into `out` and saves it there. Resumable: the vectors computed so far are kept in
 * `out` (memory.partial.*), so a run that is stopped continues on the next call with the same model,
 * dataset and split; they are deleted once the memory is saved.
 */
export async function writeCaptionMemory(out: string, options: BuildMemoryOptions): Promise<BuiltMemory> {
  await mkdir(out, { recursive: true });
  const built = await buildCaptionMemory({ ...options, resumeDir: out });
  await saveCaptionMemory(out, built.data, built.save);
  await PartialVectors.clear(out);
  return built;
}

/** The model's image vectors for dataset images, from a feature cache or from the photos. */
interface VectorSource {
  parts: number[];
  model: string;
  encoder: string;
  rows(images: readonly CaptionedImage[]): Promise<Float32Array[]>;
  close(): void;
}

async function openVectorSource(options: BuildMemoryOptions, batchSize: number): Promise<VectorSource> {
  if (options.features && options.features.length > 0) {
    // tfjs: the memory records the widths of its vectors' parts, which the tfjs decoder knows
    const model = await loadCaptionModel(options.modelDir, { ranking: "none", runtime: "tfjs" });
    const reader = concatFeatureReaders(options.features.map((dir) => openFeatureStore(dir)));
    const close = () => {
      reader.close();
      model.dispose();
    };
    if (reader.encoder !== model.info.encoder) {
      close();
      throw new Error(
        `feature cache is from ${reader.encoder} but the model uses ${model.info.encoder}: pass matching --features or drop it`,
      );
    }
    return {
      parts: imageVectorParts(model.decoder!),
      model: model.info.name,
      encoder: model.info.encoder,
      async rows(images) {
        return model.imageVectors(
          readFeatureBatch(
            reader,
            images.map((image) => image.id),
          ),
        );
      },
      close,
    };
  }
  const captioner = await loadCaptioner({
    modelDir: options.modelDir,
    batchSize,
    mirror: false,
    prior: false,
    runtime: "tfjs", // as above: the parts' widths come from the tfjs decoder
  });
  return {
    parts: imageVectorParts(captioner.model.decoder!),
    model: captioner.modelName,
    encoder: captioner.encoder.name,
    rows: (images) => captioner.imageVectors(images.map((image) => image.path)),
    close: () => captioner.dispose(),
  };
}

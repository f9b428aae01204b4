import { loadDataset } from "../data/load.js";
import { ptbTokenize } from "../data/ptb-tokenizer.js";
import { imageVectorParts, imageVectorRows } from "../decoders/image-vectors.js";
import { loadModel } from "../decoders/model-io.js";
import { normalizeParts } from "../features/normalize-parts.js";
import { openFeatureStore } from "../features/reader.js";
import { initBackend } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import { disposeInputs, featureBatch } from "../training/batches.js";
import { concatFeatureReaders } from "../training/feature-sources.js";
import { type CaptionMemoryData, DEFAULT_MEMORY_SETTINGS, type MemorySettings } from "./caption-memory.js";
import { loadCaptioner } from "./captioner.js";
import type { SaveMemoryOptions } from "./memory-io.js";

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
  const raw: Float32Array[] = [];
  let parts: number[] = [];
  let model: string;
  let encoder: string;
  if (options.features && options.features.length > 0) {
    await initBackend("wasm");
    applyWasmKernelFixes();
    const loaded = await loadModel(options.modelDir);
    const reader = concatFeatureReaders(options.features.map((dir) => openFeatureStore(dir)));
    try {
      if (reader.encoder !== loaded.meta.encoder) {
        throw new Error(
          `feature cache is from ${reader.encoder} but the model uses ${loaded.meta.encoder}: pass matching --features or drop it`,
        );
      }
      parts = imageVectorParts(loaded.decoder);
      model = loaded.meta.name;
      encoder = loaded.meta.encoder;
      for (let start = 0; start < images.length; start += batchSize) {
        const chunk = images.slice(start, start + batchSize);
        const inputs = featureBatch(
          reader,
          chunk.map((image) => image.id),
        );
        raw.push(...imageVectorRows(loaded.decoder, inputs));
        disposeInputs(inputs);
        options.onProgress?.(start + chunk.length, images.length);
      }
    } finally {
      reader.close();
      loaded.decoder.dispose();
    }
  } else {
    const captioner = await loadCaptioner({ modelDir: options.modelDir, batchSize, mirror: false });
    try {
      parts = imageVectorParts(captioner.decoder);
      model = captioner.modelName;
      encoder = captioner.encoder.name;
      for (let start = 0; start < images.length; start += batchSize) {
        const chunk = images.slice(start, start + batchSize);
        const vectors = await captioner.imageVectors(chunk.map((image) => image.path));
        raw.push(...vectors);
        options.onProgress?.(start + chunk.length, images.length);
      }
    } finally {
      captioner.dispose();
    }
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

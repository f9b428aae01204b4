import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { removeStaleTemps, writeFileAtomic } from "../core/atomic.js";
import { createEncoder, type EncoderRuntime } from "../encoders/registry.js";
import { DEFAULT_FIT } from "../image/index.js";
import { chunkImages, type ImageRef } from "./chunk.js";
import { readChunkIndex } from "./chunk-index.js";
import { DEFAULT_EXTRACT_WORKERS } from "./defaults.js";
import {
  chunkCount,
  type FeatureDtype,
  INDEX_FILE,
  MANIFEST_FILE,
  manifestSchema,
  recordBytes,
  STORE_FORMAT,
  STORE_VERSION,
  type StoreIndex,
  type StoreManifest,
  storeFolderName,
  storeIndexSchema,
} from "./format.js";
import { runChunksInline, runChunksInWorkers } from "./pool.js";

export interface ExtractOptions {
  /** Images in store order (dataset order). Ids must be unique. */
  images: readonly ImageRef[];
  /** Registry name, see createEncoder. */
  encoder: string;
  /**
   * Runtime of the built-in encoders (default onnx). Not part of the store's identity: both give the
   * same features within float rounding, so a store made with one is read and resumed with the other.
   */
  runtime?: EncoderRuntime;
  /** Root folder; the store goes into a subfolder named after encoder, size, split, dtype and views. */
  out: string;
  /** Recorded in the manifest: where the images came from. */
  dataset: { source: string; split: string };
  /** Stored precision (default float16: half the disk, ~1e-3 relative error, irrelevant for training). */
  dtype?: FeatureDtype;
  /** Augmented views per image besides the plain one (default 0). */
  augment?: number;
  augmentSeed?: number;
  /** Images per encode call (default 8). Part of the store's identity: the bytes may depend on it. */
  batch?: number;
  /** Images per chunk file (default 256): the unit of work, commit and resumption. */
  chunkSize?: number;
  /**
   * Worker threads, one encoder each with one onnxruntime thread; 0 = one encoder on the calling
   * thread using `threads` onnxruntime threads (default: DEFAULT_EXTRACT_WORKERS).
   */
  workers?: number;
  /** onnxruntime intra-op threads when workers = 0 (default 0 = one per core). */
  threads?: number;
  signal?: AbortSignal;
  /** Progress: images done (including ones resumed from disk) out of total. */
  onProgress?: (done: number, total: number) => void;
}

export interface ExtractResult {
  /** The store folder. */
  dir: string;
  manifest: StoreManifest;
  /** Images stored / images that could not be read. */
  stored: number;
  errors: StoreIndex["errors"];
  /** Images whose chunks were already on disk from an earlier run. */
  resumed: number;
}

/**
 * Encodes every image into a chunked on-disk store (see format.ts), in parallel worker threads.
 * Resumable: chunks committed by an earlier (killed) run with the same settings are kept, the rest is
 * redone, and the finished store is byte-identical to an uninterrupted run.
 */
export async function extractFeatures(options: ExtractOptions): Promise<ExtractResult> {
  const ids = options.images.map((img) => img.id);
  const dupe = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dupe !== undefined) throw new Error(`image id "${dupe}" appears twice: the store needs unique ids`);
  const augment = options.augment ?? 0;
  if (!Number.isInteger(augment) || augment < 0) throw new Error(`--augment must be a whole number >= 0`);

  // The encoder is opened once here only to learn its shapes; workers open their own.
  const encoder = await createEncoder(options.encoder, { runtime: options.runtime, onnxThreads: 1 });
  const manifest: StoreManifest = {
    format: STORE_FORMAT,
    version: STORE_VERSION,
    encoder: encoder.name,
    inputSize: encoder.inputSize,
    normalization: encoder.normalization,
    gridShape: [...encoder.gridShape],
    pooledSize: encoder.pooledSize,
    fit: DEFAULT_FIT,
    dtype: options.dtype ?? "float16",
    views: 1 + augment,
    augmentSeed: options.augmentSeed ?? 0,
    chunkSize: options.chunkSize ?? 256,
    batch: options.batch ?? 8,
    dataset: options.dataset,
    ids,
  };
  encoder.dispose();

  const dir = path.join(options.out, storeFolderName({ ...manifest, split: options.dataset.split, augment }));
  await mkdir(dir, { recursive: true });
  await adoptManifest(dir, manifest);
  await removeStaleTemps(dir);

  const total = options.images.length;
  const pending: { chunk: number; images: ImageRef[] }[] = [];
  let resumed = 0;
  for (let c = 0; c < chunkCount(manifest); c++) {
    const images = chunkImages(manifest, options.images, c);
    if (await readChunkIndex(dir, c)) resumed += images.length;
    else pending.push({ chunk: c, images });
  }
  let done = resumed;
  options.onProgress?.(done, total);
  const workers = options.workers ?? DEFAULT_EXTRACT_WORKERS;
  const run = {
    workers,
    runtime: options.runtime,
    threads: options.threads,
    signal: options.signal,
    onImages: (n: number) => {
      done += n;
      options.onProgress?.(done, total);
    },
  };
  if (workers === 0) await runChunksInline(dir, manifest, pending, run);
  else await runChunksInWorkers(dir, manifest, pending, run);
  const index = await writeStoreIndex(dir, manifest);
  return { dir, manifest, stored: index.records.length, errors: index.errors, resumed };
}

/** Writes the manifest of a new store, or checks that an existing store was made with the same settings. */
async function adoptManifest(dir: string, manifest: StoreManifest): Promise<void> {
  const file = path.join(dir, MANIFEST_FILE);
  let existing: string | undefined;
  try {
    existing = await readFile(file, "utf8");
  } catch {
    await writeFileAtomic(file, `${JSON.stringify(manifest, null, 1)}\n`);
    return;
  }
  const parsed = manifestSchema.safeParse(JSON.parse(existing));
  if (!parsed.success)
    throw new Error(`${file} is not a captionkit feature manifest: delete ${dir} or use another --out`);
  const differing = (Object.keys(manifest) as (keyof StoreManifest)[]).filter(
    (k) => JSON.stringify(parsed.data[k]) !== JSON.stringify(manifest[k]),
  );
  if (differing.length > 0) {
    throw new Error(
      `${dir} holds features made with different settings (${differing.join(", ")}): rerun with the same options to resume, or use another --out`,
    );
  }
}

/** Gathers the committed chunk indexes into index.json, the mark of a complete store. */
async function writeStoreIndex(dir: string, manifest: StoreManifest): Promise<StoreIndex> {
  const index: StoreIndex = { complete: true, chunks: chunkCount(manifest), records: [], errors: [] };
  const size = recordBytes(manifest);
  for (let c = 0; c < index.chunks; c++) {
    const chunk = await readChunkIndex(dir, c);
    if (!chunk) throw new Error(`chunk ${c} of ${dir} is missing after extraction`);
    for (const [k, id] of chunk.ids.entries()) index.records.push([id, c, k * size]);
    index.errors.push(...chunk.errors);
  }
  storeIndexSchema.parse(index);
  await writeFileAtomic(path.join(dir, INDEX_FILE), `${JSON.stringify(index)}\n`);
  return index;
}

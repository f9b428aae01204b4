import path from "node:path";
import { z } from "zod";

/**
 * On-disk layout of a feature store (see docs/features.md):
 *   manifest.json        what was extracted and how (written first, before any chunk)
 *   chunk-00000.bin      records of the chunk's images, back to back, fixed size
 *   chunk-00000.json     the chunk's image ids in record order + failures; its presence commits the chunk
 *   index.json           [id, chunk, byte offset] per image, written last; its presence means the store is complete
 * Every file is written to a temp name, fsynced and renamed, so a reader never sees a partial file.
 */
export const STORE_FORMAT = "captionkit-features";
export const STORE_VERSION = 1;
export const MANIFEST_FILE = "manifest.json";
export const INDEX_FILE = "index.json";

export type FeatureDtype = "float16" | "float32";

const rgb = z.tuple([z.number(), z.number(), z.number()]);

export const manifestSchema = z
  .object({
    format: z.literal(STORE_FORMAT),
    version: z.literal(STORE_VERSION),
    encoder: z.string(),
    inputSize: z.number().int().positive(),
    normalization: z.object({ mean: rgb, std: rgb }).strict(),
    gridShape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
    pooledSize: z.number().int().positive(),
    /** How images were squared before resizing (preprocessImage's `fit`). */
    fit: z.enum(["fill", "cover"]),
    dtype: z.enum(["float16", "float32"]),
    /** 1 + augmented views per image; view 0 is the plain image. */
    views: z.number().int().positive(),
    /** Seed the augmented views derive from (with the image id and view index). */
    augmentSeed: z.number().int().nonnegative(),
    /** Images per chunk and per encode() call: fixed per store so reruns give identical bytes. */
    chunkSize: z.number().int().positive(),
    batch: z.number().int().positive(),
    dataset: z.object({ source: z.string(), split: z.string() }).strict(),
    /** Planned image ids in store order (chunk k holds ids[k*chunkSize .. (k+1)*chunkSize), minus failures). */
    ids: z.array(z.string()),
  })
  .strict();
export type StoreManifest = z.infer<typeof manifestSchema>;

export const chunkIndexSchema = z
  .object({
    chunk: z.number().int().nonnegative(),
    /** Ids stored in this chunk, in record order. */
    ids: z.array(z.string()),
    /** Images that could not be read, with the reason; they have no record. */
    errors: z.array(z.object({ id: z.string(), message: z.string() }).strict()),
    bytes: z.number().int().nonnegative(),
    sha256: z.string(),
  })
  .strict();
export type ChunkIndex = z.infer<typeof chunkIndexSchema>;

export const storeIndexSchema = z
  .object({
    complete: z.literal(true),
    chunks: z.number().int().nonnegative(),
    /**
     * [id, chunk number, byte offset of its record in that chunk], in store order. An array, not an
     * object: JS objects reorder integer-like keys (COCO ids), which would scramble the order.
     */
    records: z.array(z.tuple([z.string(), z.number().int(), z.number().int()])),
    errors: z.array(z.object({ id: z.string(), message: z.string() }).strict()),
  })
  .strict();
export type StoreIndex = z.infer<typeof storeIndexSchema>;

export function bytesPerValue(dtype: FeatureDtype): number {
  return dtype === "float16" ? 2 : 4;
}

/** Values in one view: the grid (h * w * c, NHWC) followed by the pooled vector. */
export function viewValues(m: Pick<StoreManifest, "gridShape" | "pooledSize">): number {
  return m.gridShape[0] * m.gridShape[1] * m.gridShape[2] + m.pooledSize;
}

/** Bytes of one image's record: all its views back to back. */
export function recordBytes(m: Pick<StoreManifest, "gridShape" | "pooledSize" | "dtype" | "views">): number {
  return m.views * viewValues(m) * bytesPerValue(m.dtype);
}

export function chunkCount(m: Pick<StoreManifest, "ids" | "chunkSize">): number {
  return Math.ceil(m.ids.length / m.chunkSize);
}

export function chunkBinFile(chunk: number): string {
  return `chunk-${String(chunk).padStart(5, "0")}.bin`;
}

export function chunkIndexFile(chunk: number): string {
  return `chunk-${String(chunk).padStart(5, "0")}.json`;
}

function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9_+.-]+/g, "-").replace(/^-+|-+$/g, "");
}

/**
 * The store's folder name states what is inside: encoder, input size, split, precision and views,
 * e.g. `mobilenet_v2_mid-224px-all-float16` or `centernet_224-224px-train-float16-aug2`.
 */
export function storeFolderName(options: {
  encoder: string;
  inputSize: number;
  split: string;
  dtype: FeatureDtype;
  augment: number;
}): string {
  const encoder = options.encoder.startsWith("onnx:")
    ? `onnx-${slug(path.basename(options.encoder.slice(5)))}`
    : slug(options.encoder);
  const split = slug(path.basename(options.split).replace(/\.txt$/, ""));
  const aug = options.augment > 0 ? `-aug${options.augment}` : "";
  return `${encoder}-${options.inputSize}px-${split}-${options.dtype}${aug}`;
}

import { createHash } from "node:crypto";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic.js";
import { encodeHalf } from "../core/float16.js";
import type { Encoder } from "../encoders/types.js";
import {
  type AugmentParams,
  augmentSeed,
  DEFAULT_AUGMENT_CONFIG,
  preprocessBatch,
  sampleAugmentParams,
} from "../image/index.js";
import {
  bytesPerValue,
  type ChunkIndex,
  chunkBinFile,
  chunkIndexFile,
  recordBytes,
  type StoreManifest,
  viewValues,
} from "./format.js";

export interface ImageRef {
  id: string;
  path: string;
}

/** The images of chunk `chunk`, in store order. */
export function chunkImages(manifest: StoreManifest, images: readonly ImageRef[], chunk: number): ImageRef[] {
  return images.slice(chunk * manifest.chunkSize, (chunk + 1) * manifest.chunkSize);
}

/** The deterministic augmentation of (image, view); view 0 is the plain image. */
export function viewAugment(manifest: StoreManifest, id: string, view: number): AugmentParams | undefined {
  if (view === 0) return undefined;
  return sampleAugmentParams(DEFAULT_AUGMENT_CONFIG, augmentSeed(manifest.augmentSeed, id, view));
}

/**
 * Encodes one chunk into its record bytes. Batches are fixed slices of the chunk (`manifest.batch`
 * images, all their views in one encode call), so the bytes never depend on which worker ran it or
 * whether the run was resumed. Decoding of the next batch (sharp, on libuv threads) overlaps the
 * encoding of the current one (wasm, on this thread).
 */
export async function computeChunk(
  encoder: Encoder,
  manifest: StoreManifest,
  images: readonly ImageRef[],
  chunk: number,
  onImages?: (n: number) => void,
): Promise<{ data: Buffer; index: Omit<ChunkIndex, "sha256" | "bytes"> }> {
  const views = manifest.views;
  const per = viewValues(manifest);
  const gridValues = per - manifest.pooledSize;
  const bpv = bytesPerValue(manifest.dtype);
  const batches: ImageRef[][] = [];
  for (let i = 0; i < images.length; i += manifest.batch) batches.push(images.slice(i, i + manifest.batch));

  const prepare = (batch: ImageRef[]) =>
    preprocessBatch(
      batch.flatMap((img) => Array.from({ length: views }, () => img.path)),
      {
        size: manifest.inputSize,
        normalization: manifest.normalization,
        fit: manifest.fit,
        augment: batch.flatMap((img) =>
          Array.from({ length: views }, (_, v) => viewAugment(manifest, img.id, v)),
        ),
      },
    );

  const parts: Buffer[] = [];
  const ids: string[] = [];
  const errors: ChunkIndex["errors"] = [];
  let pending = batches.length > 0 ? prepare(batches[0]!) : undefined;
  for (let b = 0; b < batches.length; b++) {
    const batch = batches[b]!;
    const prepared = await pending!;
    pending = b + 1 < batches.length ? prepare(batches[b + 1]!) : undefined;
    // an image is stored only if every one of its views decoded
    const okImages: number[] = [];
    batch.forEach((img, i) => {
      const failed = prepared.errors.slice(i * views, (i + 1) * views).find((e) => e !== undefined);
      if (failed) errors.push({ id: img.id, message: failed.message });
      else okImages.push(i);
    });
    if (okImages.length > 0) {
      const imageLen = manifest.inputSize * manifest.inputSize * 3;
      const input =
        okImages.length === batch.length
          ? prepared.data
          : concatRows(prepared.data, okImages, views * imageLen);
      const out = await encoder.encode(input, okImages.length * views);
      const buf = Buffer.alloc(okImages.length * recordBytes(manifest));
      for (let r = 0; r < okImages.length * views; r++) {
        const grid = out.grid.subarray(r * gridValues, (r + 1) * gridValues);
        const pooled = out.pooled.subarray(r * manifest.pooledSize, (r + 1) * manifest.pooledSize);
        writeValues(grid, buf, r * per * bpv, manifest.dtype);
        writeValues(pooled, buf, (r * per + gridValues) * bpv, manifest.dtype);
      }
      parts.push(buf);
      for (const i of okImages) ids.push(batch[i]!.id);
    }
    onImages?.(batch.length);
  }
  return { data: Buffer.concat(parts), index: { chunk, ids, errors } };
}

function concatRows(data: Float32Array, rows: number[], rowLength: number): Float32Array {
  const out = new Float32Array(rows.length * rowLength);
  rows.forEach((row, k) => {
    out.set(data.subarray(row * rowLength, (row + 1) * rowLength), k * rowLength);
  });
  return out;
}

function writeValues(values: Float32Array, out: Buffer, offset: number, dtype: StoreManifest["dtype"]): void {
  if (dtype === "float16") encodeHalf(values, out, offset);
  else for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i]!, offset + 4 * i);
}

/** Commits a chunk: the .bin first, then its .json, whose presence is what marks the chunk done. */
export async function writeChunk(
  dir: string,
  data: Buffer,
  index: Omit<ChunkIndex, "sha256" | "bytes">,
): Promise<ChunkIndex> {
  const full: ChunkIndex = {
    ...index,
    bytes: data.length,
    sha256: createHash("sha256").update(data).digest("hex"),
  };
  await writeFileAtomic(path.join(dir, chunkBinFile(index.chunk)), data);
  await writeFileAtomic(path.join(dir, chunkIndexFile(index.chunk)), `${JSON.stringify(full)}\n`);
  return full;
}

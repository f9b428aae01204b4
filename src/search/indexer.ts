import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { glob } from "tinyglobby";
import { decodeFloat16, encodeFloat16 } from "../core/float16.js";
import { ANN_MIN_VECTORS, type SyncResult, syncVectorIndex } from "./ann/vector-index.js";
import type { PhotoStore, StoredFeatures } from "./db/store.js";
import type { ImageFeatures, IndexPipeline, PipelineInput } from "./pipeline.js";
import { dequantizeRows, quantizeRows } from "./quantize.js";

const NO_BYTES = new Uint8Array(0);

export const IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "webp", "gif", "tif", "tiff"] as const;

export interface IndexOptions {
  recursive?: boolean;
  /** Images per pipeline call and per transaction: a killed run loses at most this many. Default 16. */
  batchSize?: number;
  /** Called once the work is known, then after each batch (drives the CLI progress bar). */
  onProgress?: (event: { total: number; done: number }) => void;
  onError?: (imagePath: string, error: Error) => void;
  /**
   * Batches sent to the pipeline before the first is written (a queue keeps many workers busy this
   * way); they are still written in order, one transaction each. Default 1.
   */
  inFlight?: number;
  /**
   * Cut batches from the folder listing (every batchSize files) instead of from the work list, so a
   * restarted run forms the same batches and a queue finds the results it already has. Default false.
   */
  stableBatches?: boolean;
  /** Vectors from which the HNSW graph beside the database is kept (search/ann/). Default ANN_MIN_VECTORS. */
  annMinVectors?: number;
}

export interface IndexSummary {
  scanned: number;
  added: number;
  updated: number;
  unchanged: number;
  removed: number;
  failed: number;
  /** Images whose content matched an indexed image (moved or duplicated): copied, not recomputed. */
  reused: number;
  embedded: number;
  /** What happened to the HNSW graph beside the database ("none": too few vectors, or in memory). */
  vectorIndex: SyncResult["action"];
}

/**
 * Brings the index in line with a folder: new and changed files are captioned and encoded, files that
 * vanished are dropped, untouched files (same size and mtime) are not even read. Each batch commits in
 * its own transaction (captions, features and embeddings together), so a killed run keeps every
 * finished batch, searchable by every method, and the next run resumes from there.
 */
export async function indexFolder(
  store: PhotoStore,
  folder: string,
  pipeline: IndexPipeline,
  options: IndexOptions = {},
): Promise<IndexSummary> {
  const root = path.resolve(folder);
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const files = await listImages(root, options.recursive ?? false);
  const summary: IndexSummary = {
    scanned: files.length,
    added: 0,
    updated: 0,
    unchanged: 0,
    removed: 0,
    failed: 0,
    reused: 0,
    embedded: 0,
    vectorIndex: "none",
  };

  const present = new Set(files);
  const inScope = (p: string) =>
    options.recursive ? p.startsWith(root + path.sep) : path.dirname(p) === root;
  // Vanished files are dropped last: until then a moved photo can still be found by its hash.
  const gone = store.all().filter((row) => inScope(row.path) && !present.has(row.path));

  const todo: { path: string; size: number; mtimeMs: number }[] = [];
  for (const file of files) {
    const info = await stat(file);
    const row = store.byPath(file);
    if (row && row.size === info.size && row.mtime_ms === info.mtimeMs) summary.unchanged++;
    else todo.push({ path: file, size: info.size, mtimeMs: info.mtimeMs });
  }
  store.setMeta("caption_model", pipeline.captionModel);
  if (pipeline.captionModelDir) store.setMeta("caption_model_dir", pipeline.captionModelDir);

  options.onProgress?.({ total: todo.length, done: 0 });
  type Input = PipelineInput & { size: number; mtimeMs: number; hash: string };
  // read, hash and send to the pipeline; with a queue several batches are out at once
  const start = async (batch: typeof todo) => {
    const inputs: Input[] = [];
    for (const file of batch) {
      const bytes = await readFile(file.path);
      const hash = createHash("sha256").update(bytes).digest("hex");
      inputs.push({ ...file, bytes: pipeline.readsPaths ? NO_BYTES : bytes, hash });
    }
    // Content already indexed (touched file, moved or duplicated photo): no model work needed.
    const fresh = inputs.filter((input) => {
      const row = store.byPath(input.path);
      return !(row && row.hash === input.hash) && store.idByHash(input.hash) === undefined;
    });
    const results = fresh.length > 0 ? await pipeline.process(fresh) : [];
    return { inputs, fresh, results };
  };
  const batches = options.stableBatches ? cutByListing(files, todo, batchSize) : cut(todo, batchSize);
  const window = Math.max(1, options.inFlight ?? 1);
  const pending: ReturnType<typeof start>[] = [];
  let next = 0;
  const launch = () => {
    const started = start(batches[next++]!);
    started.catch(() => {}); // awaited in order below; this only keeps a later failure from going unhandled
    pending.push(started);
  };
  let done = 0;
  while (next < batches.length && pending.length < window) launch();
  while (pending.length > 0) {
    const { inputs, fresh, results } = await pending.shift()!;
    if (next < batches.length) launch();
    store.db.transaction(() => {
      for (const input of inputs) {
        const row = store.byPath(input.path);
        const index = fresh.indexOf(input);
        if (index < 0 && row && row.hash === input.hash) {
          store.touch(row.id, input.size, input.mtimeMs);
          summary.unchanged++;
          continue;
        }
        if (index < 0) {
          if (embedImage(store, pipeline, copyFrom(store, store.idByHash(input.hash)!, input))) {
            summary.embedded++;
          }
          summary.reused++;
        } else {
          const result = results[index]!;
          if (result instanceof Error) {
            summary.failed++;
            options.onError?.(input.path, result);
            continue;
          }
          const id = store.putImage({ ...input, caption: result.caption, confidence: result.confidence });
          for (const f of result.features) store.putFeatures(id, packFeatures(f));
          if (embedImage(store, pipeline, id)) summary.embedded++;
        }
        if (row) summary.updated++;
        else summary.added++;
      }
    })();
    if (fresh.length > 0) await pipeline.committed?.(fresh);
    done += inputs.length;
    options.onProgress?.({ total: todo.length, done });
  }
  store.db.transaction(() => {
    for (const row of gone) store.remove(row.id);
  })();
  summary.removed = gone.length;
  // what the batches did not embed: every image after an embedding model change
  summary.embedded += refreshEmbeddings(store, pipeline, batchSize * 8);
  const file = store.db.name;
  if (pipeline.embeddingModel && file !== ":memory:" && file !== "") {
    const minVectors = options.annMinVectors ?? ANN_MIN_VECTORS;
    summary.vectorIndex = syncVectorIndex(file, store, pipeline.embeddingModel, { minVectors }).action;
  }
  return summary;
}

function cut<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The work list in batches bounded by fixed positions of the (sorted) listing; empty ones dropped. */
function cutByListing<T extends { path: string }>(files: string[], todo: T[], size: number): T[][] {
  const slot = new Map(files.map((f, i) => [f, Math.floor(i / size)]));
  const out = new Map<number, T[]>();
  for (const item of todo) {
    const key = slot.get(item.path)!;
    const list = out.get(key);
    if (list) list.push(item);
    else out.set(key, [item]);
  }
  return [...out.values()];
}

/**
 * Stores the image's joint-embedding vector, from its stored features exactly as refreshEmbeddings
 * would. Called inside a batch's transaction so that a killed run leaves every committed photo
 * searchable by embedding, not only by its caption.
 */
function embedImage(store: PhotoStore, pipeline: IndexPipeline, id: number): boolean {
  const model = pipeline.embeddingModel;
  if (!model || !pipeline.embed) return false;
  const vector = pipeline.embed(store.features(id).map(unpackFeatures));
  if (!vector) return false;
  store.putEmbedding(id, model, encodeFloat16(vector));
  return true;
}

/**
 * Computes joint-embedding vectors from stored features for images that lack one from the current
 * model: new images, and every image after the embedding model changes (no re-encoding needed).
 */
export function refreshEmbeddings(store: PhotoStore, pipeline: IndexPipeline, batchSize = 128): number {
  const model = pipeline.embeddingModel;
  if (!model || !pipeline.embed) return 0;
  const ids = store.staleEmbeddings(model);
  let done = 0;
  for (let start = 0; start < ids.length; start += batchSize) {
    store.db.transaction(() => {
      for (const id of ids.slice(start, start + batchSize)) if (embedImage(store, pipeline, id)) done++;
    })();
  }
  store.setMeta("embedding_model", model);
  return done;
}

function copyFrom(
  store: PhotoStore,
  sourceId: number,
  input: { path: string; size: number; mtimeMs: number; hash: string },
): number {
  const source = store.db.prepare("SELECT caption, confidence FROM images WHERE id = ?").get(sourceId) as {
    caption: string;
    confidence: number;
  };
  const features = store.features(sourceId);
  const id = store.putImage({ ...input, ...source });
  for (const f of features) store.putFeatures(id, f);
  return id;
}

export function packFeatures(f: ImageFeatures): StoredFeatures {
  return {
    encoder: f.encoder,
    pooled: encodeFloat16(f.pooled),
    grid: f.grid && f.regions ? quantizeRows(f.grid, f.regions) : null,
  };
}

export function unpackFeatures(f: StoredFeatures): ImageFeatures {
  const pooled = decodeFloat16(f.pooled);
  if (!f.grid) return { encoder: f.encoder, pooled };
  const { values, rows } = dequantizeRows(f.grid);
  return { encoder: f.encoder, pooled, grid: values, regions: rows };
}

/** Image files directly in root (or below it with recursive), as sorted absolute paths. */
export async function listImages(root: string, recursive: boolean): Promise<string[]> {
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw new Error(`${root} is not a folder; pass the folder of photos to index`);
  const pattern = `${recursive ? "**/" : ""}*.{${IMAGE_EXTENSIONS.join(",")}}`;
  const found = await glob(pattern, {
    cwd: root,
    absolute: true,
    onlyFiles: true,
    caseSensitiveMatch: false,
  });
  return found.map((p) => path.resolve(p)).sort();
}

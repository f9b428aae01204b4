import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import path from "node:path";
import { decodeHalf } from "../core/float16.js";
import { readChunkIndexSync } from "./chunk-index.js";
import {
  bytesPerValue,
  chunkBinFile,
  chunkCount,
  type FeatureDtype,
  INDEX_FILE,
  MANIFEST_FILE,
  manifestSchema,
  recordBytes,
  type StoreIndex,
  type StoreManifest,
  storeIndexSchema,
  viewValues,
} from "./format.js";
import type { FeatureReader } from "./types.js";

export interface OpenOptions {
  /** Read the chunks committed so far when index.json is not written yet (store still being extracted). */
  allowPartial?: boolean;
  /** Chunk files kept open at once (least recently used closed first). Default 8. */
  maxOpenChunks?: number;
}

/**
 * Reads a feature store lazily: only the index is loaded; each read() is one positioned read of the
 * view's bytes from its chunk file (the OS page cache does the caching), with an LRU of open chunk
 * file descriptors. Memory stays flat however large the store is.
 *
 * @example
 * const store = openFeatureStore("/work/cache/features/mobilenet_v2_mid-224px-all-float16");
 * const { grid, pooled } = store.read("1000268201_693b08cb0e.jpg"); // grid: 7*7*1792 floats
 * store.close();
 */
export class FeatureStore implements FeatureReader {
  readonly encoder: string;
  readonly gridShape: readonly [number, number, number];
  readonly pooledSize: number;
  readonly ids: readonly string[];
  readonly manifest: StoreManifest;
  /** Images that could not be read during extraction. */
  readonly errors: StoreIndex["errors"];
  readonly complete: boolean;
  private readonly records = new Map<string, [chunk: number, offset: number]>();
  private readonly fds = new Map<number, number>();
  private readonly maxOpen: number;

  constructor(
    readonly dir: string,
    options: OpenOptions = {},
  ) {
    this.manifest = manifestSchema.parse(JSON.parse(readFileSync(path.join(dir, MANIFEST_FILE), "utf8")));
    this.encoder = this.manifest.encoder;
    this.gridShape = this.manifest.gridShape;
    this.pooledSize = this.manifest.pooledSize;
    this.maxOpen = Math.max(1, options.maxOpenChunks ?? 8);
    let index: StoreIndex | undefined;
    try {
      index = storeIndexSchema.parse(JSON.parse(readFileSync(path.join(dir, INDEX_FILE), "utf8")));
    } catch {
      if (!options.allowPartial) {
        throw new Error(
          `${dir} is not complete (no ${INDEX_FILE}): rerun the same \`captionkit features\` command to finish it`,
        );
      }
    }
    this.complete = index !== undefined;
    index ??= this.partialIndex();
    for (const [id, chunk, offset] of index.records) this.records.set(id, [chunk, offset]);
    this.ids = index.records.map((r) => r[0]);
    this.errors = index.errors;
  }

  get dtype(): FeatureDtype {
    return this.manifest.dtype;
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  viewsOf(id: string): number {
    this.locate(id);
    return this.manifest.views;
  }

  read(id: string, view = 0): { grid: Float32Array; pooled: Float32Array } {
    const values = this.readValues(id, view, 0, viewValues(this.manifest));
    const gridLen = values.length - this.pooledSize;
    return { grid: values.subarray(0, gridLen), pooled: values.subarray(gridLen) };
  }

  /** Only the pooled vector (reads a few KB instead of the whole grid). */
  readPooled(id: string, view = 0): Float32Array {
    const gridLen = viewValues(this.manifest) - this.pooledSize;
    return this.readValues(id, view, gridLen, this.pooledSize);
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  private locate(id: string): [number, number] {
    const rec = this.records.get(id);
    if (!rec) throw new Error(`image "${id}" is not in the feature store ${this.dir}`);
    return rec;
  }

  private readValues(id: string, view: number, from: number, count: number): Float32Array {
    const [chunk, offset] = this.locate(id);
    if (!Number.isInteger(view) || view < 0 || view >= this.manifest.views) {
      throw new Error(`view ${view} out of range: ${id} has ${this.manifest.views} views`);
    }
    const bpv = bytesPerValue(this.manifest.dtype);
    const start = offset + (view * viewValues(this.manifest) + from) * bpv;
    const bytes = Buffer.allocUnsafe(count * bpv);
    const got = readSync(this.fd(chunk), bytes, 0, bytes.length, start);
    if (got !== bytes.length) throw new Error(`${this.dir}: chunk ${chunk} is truncated`);
    if (this.manifest.dtype === "float16") return decodeHalf(bytes);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = bytes.readFloatLE(4 * i);
    return out;
  }

  private fd(chunk: number): number {
    let fd = this.fds.get(chunk);
    if (fd !== undefined) {
      // refresh LRU position: Map iteration order is insertion order
      this.fds.delete(chunk);
      this.fds.set(chunk, fd);
      return fd;
    }
    if (this.fds.size >= this.maxOpen) {
      const [oldest, oldFd] = this.fds.entries().next().value as [number, number];
      closeSync(oldFd);
      this.fds.delete(oldest);
    }
    fd = openSync(path.join(this.dir, chunkBinFile(chunk)), "r");
    this.fds.set(chunk, fd);
    return fd;
  }

  private partialIndex(): StoreIndex {
    const index: StoreIndex = { complete: true, chunks: chunkCount(this.manifest), records: [], errors: [] };
    const size = recordBytes(this.manifest);
    for (let c = 0; c < index.chunks; c++) {
      const chunk = readChunkIndexSync(this.dir, c);
      if (!chunk) continue;
      for (const [k, id] of chunk.ids.entries()) index.records.push([id, c, k * size]);
      index.errors.push(...chunk.errors);
    }
    return index;
  }
}

export function openFeatureStore(dir: string, options: OpenOptions = {}): FeatureStore {
  return new FeatureStore(dir, options);
}

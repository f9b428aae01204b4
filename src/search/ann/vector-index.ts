import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { decodeFloat16 } from "../../core/float16.js";
import type { PhotoStore } from "../db/store.js";
import { HNSW_DEFAULTS, HnswIndex, type HnswParams } from "./hnsw.js";

/**
 * Below this many vectors search scans them all (exact, 13 ms p50 at 20,000 on a 2-core machine, see
 * docs/scaling.md); from it on `index` keeps an HNSW graph beside the database and search uses it.
 */
export const ANN_MIN_VECTORS = 20_000;

/** Removed ids whose slots stay in the graph until a rebuild: past this share, rebuild. */
const MAX_REMOVED_SHARE = 0.25;
const FORMAT = 1;

/** What an ANN file holds, in a JSON file beside it: which database, model and log position. */
interface AnnState {
  format: number;
  /** The database's meta index_uid: a file from another database is never used. */
  indexUid: string;
  model: string;
  dim: number;
  /** Every embedding_log entry up to this sequence number is in the graph. */
  seq: number;
  removed: number;
  params: HnswParams;
}

export function annFiles(dbPath: string): { graph: string; state: string } {
  return { graph: `${dbPath}.hnsw`, state: `${dbPath}.hnsw.json` };
}

/** An HNSW graph in line with the database up to `state.seq`. */
export class VectorIndex {
  private constructor(
    readonly graph: HnswIndex,
    private state: AnnState,
  ) {}

  get seq(): number {
    return this.state.seq;
  }

  get model(): string {
    return this.state.model;
  }

  /**
   * The saved graph for this database and model, caught up with what the database changed since; or
   * undefined when there is none, it is another model's or database's, or the log no longer reaches
   * back to it (then only `build` helps).
   */
  static open(dbPath: string, store: PhotoStore, model: string, dim: number): VectorIndex | undefined {
    const files = annFiles(dbPath);
    if (!existsSync(files.graph) || !existsSync(files.state)) return undefined;
    let state: AnnState;
    try {
      state = JSON.parse(readFileSync(files.state, "utf8")) as AnnState;
    } catch {
      return undefined;
    }
    const log = store.embeddingLog();
    const usable =
      state.format === FORMAT &&
      state.indexUid === store.getMeta("index_uid") &&
      state.model === model &&
      state.dim === dim &&
      state.seq <= log.end &&
      // every change after state.seq must still be in the log
      (log.start === undefined ? state.seq === log.end : state.seq >= log.start - 1);
    if (!usable) return undefined;
    const index = new VectorIndex(HnswIndex.load(files.graph, dim, state.params), state);
    index.catchUp(store);
    return index;
  }

  /** A new graph of every vector of this model in the database (one consistent snapshot). */
  static build(
    store: PhotoStore,
    model: string,
    dim: number,
    params: HnswParams = HNSW_DEFAULTS,
  ): VectorIndex {
    return store.db.transaction(() => {
      const graph = HnswIndex.create(dim, store.embeddingCount(model), params);
      const vector = new Float32Array(dim);
      for (const row of store.embeddingVectors(model)) {
        if (row.vector.byteLength !== dim * 2) continue;
        graph.add(row.id, decodeFloat16(row.vector, vector));
      }
      const state: AnnState = {
        format: FORMAT,
        indexUid: store.getMeta("index_uid") ?? "",
        model,
        dim,
        seq: store.embeddingLog().end,
        removed: 0,
        params,
      };
      return new VectorIndex(graph, state);
    })();
  }

  /** Applies the logged changes since `seq`: changed vectors replaced, dropped ones removed. */
  catchUp(store: PhotoStore): number {
    return store.db.transaction(() => {
      const end = store.embeddingLog().end;
      if (end === this.state.seq) return 0;
      const changed = store.embeddingChanges(this.state.seq, end);
      const vector = new Float32Array(this.state.dim);
      for (const id of changed) {
        const bytes = store.embedding(id, this.state.model);
        if (bytes && bytes.byteLength === this.state.dim * 2)
          this.graph.add(id, decodeFloat16(bytes, vector));
        else if (this.graph.remove(id)) this.state.removed++;
      }
      this.state.seq = end;
      return changed.length;
    })();
  }

  /** Whether the log still reaches back to this graph's position (else reopen or rebuild). */
  reachable(store: PhotoStore): boolean {
    const log = store.embeddingLog();
    return log.start === undefined ? this.state.seq === log.end : this.state.seq >= log.start - 1;
  }

  /** Too many removed slots: a rebuild gives a smaller, better graph. */
  get worn(): boolean {
    return this.state.removed > MAX_REMOVED_SHARE * Math.max(1, this.graph.slots);
  }

  search(q: Float32Array, k: number): { ids: number[]; scores: number[] } {
    return this.graph.search(q, k);
  }

  /** Writes the graph, then its state: a crash between leaves a graph newer than its state, which replays safely. */
  save(dbPath: string): void {
    const files = annFiles(dbPath);
    const tmp = `${files.graph}.tmp-${process.pid}`;
    this.graph.save(tmp);
    renameSync(tmp, files.graph);
    writeFileSync(`${files.state}.tmp-${process.pid}`, `${JSON.stringify(this.state)}\n`);
    renameSync(`${files.state}.tmp-${process.pid}`, files.state);
  }
}

export interface SyncResult {
  /** "none": below ANN_MIN_VECTORS and no graph yet (search scans exactly). */
  action: "none" | "built" | "updated" | "unchanged";
  vectors: number;
  seconds: number;
}

/**
 * What `index` (the only writer) runs after writing: brings the graph beside the database in line with
 * it (incrementally from the change log, or rebuilt when missing, stale or worn), saves it, and prunes
 * the log entries it no longer needs.
 */
export function syncVectorIndex(
  dbPath: string,
  store: PhotoStore,
  model: string,
  options: { minVectors?: number; params?: HnswParams } = {},
): SyncResult {
  const started = Date.now();
  const vectors = store.embeddingCount(model);
  // the stored width (float16), which is the model's searchDim that readers open the graph with
  const dim = (store.embeddingBytes(model) ?? 0) / 2;
  const seconds = () => (Date.now() - started) / 1000;
  const files = annFiles(dbPath);
  if (dim === 0 || (vectors < (options.minVectors ?? ANN_MIN_VECTORS) && !existsSync(files.graph))) {
    store.pruneEmbeddingLog(store.embeddingLog().end);
    return { action: "none", vectors, seconds: seconds() };
  }
  const before = existsSync(files.state) ? readFileSync(files.state, "utf8") : "";
  let index = VectorIndex.open(dbPath, store, model, dim);
  let action: SyncResult["action"] = "updated";
  if (!index || index.worn) {
    index = VectorIndex.build(store, model, dim, options.params);
    action = "built";
  } else if (JSON.parse(before).seq === index.seq) action = "unchanged";
  if (action !== "unchanged") index.save(dbPath);
  store.pruneEmbeddingLog(index.seq);
  return { action, vectors, seconds: seconds() };
}

/** Deletes the graph (tests, and `index` when the embedding model is gone). */
export function removeVectorIndex(dbPath: string): void {
  const files = annFiles(dbPath);
  rmSync(files.graph, { force: true });
  rmSync(files.state, { force: true });
}

import { createRequire } from "node:module";
import type { HierarchicalNSW as Hnsw } from "hnswlib-node";

// hnswlib-node is a CommonJS native addon; loaded on first use so exact-search paths never pay for it.
const require = createRequire(import.meta.url);
let addon: typeof import("hnswlib-node") | undefined;
function hnswlib(): typeof import("hnswlib-node") {
  addon ??= require("hnswlib-node") as typeof import("hnswlib-node");
  return addon;
}

export interface HnswParams {
  /** Graph degree (hnswlib's M): memory and recall grow with it. */
  m: number;
  /** Candidate list while inserting: build time and graph quality grow with it. */
  efConstruction: number;
  /** Candidate list per query (at least k): latency and recall grow with it. */
  efSearch: number;
}

/** Measured on 1,000,000 vectors in bench/ann.ts (docs/scaling.md): recall@10 >= 0.95 within 20 ms. */
export const HNSW_DEFAULTS: HnswParams = { m: 16, efConstruction: 80, efSearch: 512 };

/**
 * hnswlib's HNSW graph over inner products (score = dot product, what exact search ranks by), keyed by
 * image id. A thin layer: typed arrays in, capacity grown as needed, absent ids ignored on removal.
 */
export class HnswIndex {
  private constructor(
    private readonly graph: Hnsw,
    readonly dim: number,
    readonly params: HnswParams,
  ) {
    graph.setEf(params.efSearch);
  }

  static create(dim: number, capacity: number, params: HnswParams = HNSW_DEFAULTS): HnswIndex {
    const graph = new (hnswlib().HierarchicalNSW)("ip", dim);
    graph.initIndex({
      maxElements: Math.max(16, capacity),
      m: params.m,
      efConstruction: params.efConstruction,
      randomSeed: 100,
    });
    return new HnswIndex(graph, dim, params);
  }

  static load(file: string, dim: number, params: HnswParams = HNSW_DEFAULTS): HnswIndex {
    const graph = new (hnswlib().HierarchicalNSW)("ip", dim);
    graph.readIndexSync(file);
    return new HnswIndex(graph, dim, params);
  }

  /** Slots in use, counting removed ids (their slots are reclaimed only by a rebuild). */
  get slots(): number {
    return this.graph.getCurrentCount();
  }

  /** Candidate list per query from now on (HnswParams.efSearch). */
  setEf(ef: number): void {
    this.graph.setEf(ef);
  }

  /** Adds the vector under this id, or replaces the id's vector (bringing a removed id back). */
  add(id: number, vector: Float32Array): void {
    if (vector.length !== this.dim)
      throw new Error(`ann: vector of ${vector.length} values, index has ${this.dim}`);
    const max = this.graph.getMaxElements();
    if (this.graph.getCurrentCount() >= max) this.graph.resizeIndex(Math.ceil(max * 1.5) + 16);
    this.graph.addPoint(Array.from(vector), id);
  }

  /** Drops the id from results; true if it was there. */
  remove(id: number): boolean {
    try {
      this.graph.markDelete(id);
      return true;
    } catch {
      return false; // absent or already removed
    }
  }

  /** The k best ids by inner product with q, best first. */
  search(q: Float32Array, k: number): { ids: number[]; scores: number[] } {
    const n = Math.min(k, this.graph.getCurrentCount());
    if (n <= 0) return { ids: [], scores: [] };
    if (this.graph.getEf() < n) this.graph.setEf(n);
    const { neighbors, distances } = this.graph.searchKnn(Array.from(q), n);
    // hnswlib's "ip" distance is 1 - dot
    return { ids: neighbors, scores: distances.map((d) => 1 - d) };
  }

  save(file: string): void {
    this.graph.writeIndexSync(file);
  }
}

import { existsSync } from "node:fs";
import path from "node:path";
import { openDatabase } from "./db/schema.js";
import { PhotoStore } from "./db/store.js";
import { unpackFeatures } from "./indexer.js";
import { DEFAULT_EMBEDDING_DIR, type LoadedEmbedding, loadEmbeddingWithId } from "./models.js";
import { EmbeddingRanker } from "./rankers/embedding.js";
import { type Ranked, rankFullText } from "./rankers/fts.js";
import { reciprocalRankFusion } from "./rankers/fusion.js";
import type { CaptionScorer } from "./rankers/generative.js";
import type { PhotoSearch, RankingMethod, SearchOptions, SearchResult } from "./types.js";

/**
 * Best method measured on Flickr8k val (docs/results/search.md): the joint embedding. fts, fusion and
 * generative depend on the caption model and had no trained model to be measured with yet.
 */
export const DEFAULT_METHOD: RankingMethod = "embedding";
export const RANKING_METHODS: readonly RankingMethod[] = ["fts", "generative", "embedding", "fusion"];

export interface OpenPhotoSearchOptions {
  /** Joint-embedding model folder. Default: the one the index was built with, else models/embedding. */
  embeddingModel?: string;
  /** Generative ranking: a scorer, or a factory called on first use (loading a caption model is slow). */
  scorer?: CaptionScorer | (() => Promise<CaptionScorer>);
  /** Method when a search names none. Default DEFAULT_METHOD. */
  defaultMethod?: RankingMethod;
  /** Candidates (the embedding's top, else BM25's) that generative ranking re-scores. Default 50. */
  generativeCandidates?: number;
}

/**
 * Opens a photo index for searching (read-only, so it can run beside an `index` run thanks to WAL).
 *
 * @example
 * const photos = await openPhotoSearch("photos.sqlite");
 * await photos.search("a dog running on the beach", { k: 5 }); // [{ image, score, caption }, ...]
 * photos.close();
 */
export async function openPhotoSearch(
  dbPath: string,
  options: OpenPhotoSearchOptions = {},
): Promise<PhotoSearch> {
  if (!existsSync(dbPath))
    throw new Error(
      `no photo index at ${dbPath}; create it with \`captionkit index <folder> --db ${dbPath}\``,
    );
  const db = openDatabase(dbPath, { readonly: true });
  const store = new PhotoStore(db);
  const dir = options.embeddingModel ?? store.getMeta("embedding_model_dir") ?? DEFAULT_EMBEDDING_DIR;
  const embedding = existsSync(dir) ? await loadEmbeddingWithId(dir) : undefined;
  return new SqlitePhotoSearch(store, embedding, options);
}

class SqlitePhotoSearch implements PhotoSearch {
  private ranker: EmbeddingRanker | undefined;
  private dataVersion = -1;
  private scorer: CaptionScorer | undefined;

  constructor(
    private readonly store: PhotoStore,
    private readonly embedding: LoadedEmbedding | undefined,
    private readonly options: OpenPhotoSearchOptions,
  ) {}

  count(): number {
    return this.store.count();
  }

  imagePath(id: number): string | undefined {
    return this.store.byId(id)?.path;
  }

  folder(): string | undefined {
    const { first, last } = this.store.pathRange();
    if (first === null || last === null) return undefined;
    let common = 0;
    while (common < first.length && first[common] === last[common]) common++;
    // Back to a whole folder name: "/photos/2023" and "/photos/2024" share "/photos/202", i.e. /photos.
    const cut = first.slice(0, common + 1).lastIndexOf(path.sep);
    return cut <= 0 ? path.sep : first.slice(0, cut);
  }

  async search(query: string, options: SearchOptions = {}): Promise<SearchResult[]> {
    const k = Math.max(1, Math.floor(options.k ?? 10));
    const method = options.method ?? this.options.defaultMethod ?? DEFAULT_METHOD;
    if (!RANKING_METHODS.includes(method)) {
      throw new Error(`unknown ranking method "${method}"; use one of ${RANKING_METHODS.join(", ")}`);
    }
    const ranked = await this.rank(query, k, method, options.method !== undefined);
    return ranked.map((r) => ({ id: r.id, image: r.path, score: r.score, caption: r.caption }));
  }

  private async rank(query: string, k: number, method: RankingMethod, explicit: boolean): Promise<Ranked[]> {
    if (method === "fts") return rankFullText(this.store, query, k);
    // only an explicit --method embedding insists on vectors; fusion and generative do without
    const ranker = this.embeddingRanker(explicit && method === "embedding");
    if (method === "embedding") {
      // No embedding (no model, or no query word it knows): the caption words are all we have.
      return ranker?.rank(query, k) ?? rankFullText(this.store, query, k);
    }
    if (method === "fusion") return this.fuse(ranker, query, k);
    // generative re-scores a shortlist from the best cheap method: the embedding (BM25 without one)
    const pool = Math.max(k, this.options.generativeCandidates ?? 50);
    const shortlist = ranker?.rank(query, pool) ?? rankFullText(this.store, query, pool);
    return (await this.rerankGenerative(query, shortlist)).slice(0, k);
  }

  /** Reciprocal-rank fusion of the embedding's and BM25's top lists. */
  private fuse(ranker: EmbeddingRanker | undefined, query: string, k: number): Ranked[] {
    const depth = Math.max(100, k);
    const lists = [{ items: rankFullText(this.store, query, depth) }];
    const byEmbedding = ranker?.rank(query, depth);
    if (byEmbedding) lists.push({ items: byEmbedding });
    return reciprocalRankFusion(lists, k);
  }

  private async rerankGenerative(query: string, candidates: Ranked[]): Promise<Ranked[]> {
    if (candidates.length === 0) return [];
    const scorer = await this.captionScorer();
    const features = candidates.map((c) => {
      const stored = this.store.features(c.id).find((f) => f.encoder === scorer.encoder && f.grid);
      if (!stored) {
        throw new Error(
          `the index has no ${scorer.encoder} grid features for ${c.path}; rebuild it with ` +
            "`captionkit index` and the same caption model to use --method generative",
        );
      }
      return unpackFeatures(stored);
    });
    const scores = await scorer.score(query, features);
    return candidates.map((c, i) => ({ ...c, score: scores[i]! })).sort((a, b) => b.score - a.score);
  }

  private async captionScorer(): Promise<CaptionScorer> {
    if (this.scorer) return this.scorer;
    const option = this.options.scorer;
    if (!option) {
      const { loadCaptionScorer } = await import("./caption-model.js");
      this.scorer = await loadCaptionScorer(this.store.getMeta("caption_model_dir"));
    } else {
      this.scorer = typeof option === "function" ? await option() : option;
    }
    return this.scorer;
  }

  /** Vectors are cached in memory and reloaded when another connection (an index run) has committed. */
  private embeddingRanker(explicit: boolean): EmbeddingRanker | undefined {
    if (!this.embedding) {
      if (explicit) {
        throw new Error(
          `no joint-embedding model found (looked in ${DEFAULT_EMBEDDING_DIR}); pass one or use --method fts`,
        );
      }
      return undefined;
    }
    const version = this.store.db.pragma("data_version", { simple: true }) as number;
    if (!this.ranker || version !== this.dataVersion) {
      this.ranker = new EmbeddingRanker(this.store, this.embedding.model, this.embedding.id);
      this.dataVersion = version;
    }
    if (this.ranker.size === 0 && this.store.count() > 0) {
      if (explicit) {
        throw new Error(
          `the index has no vectors from embedding model ${this.embedding.id}; rerun \`captionkit index\` to add them`,
        );
      }
      return undefined;
    }
    return this.ranker;
  }

  close(): void {
    this.scorer?.dispose();
    this.store.db.close();
  }
}

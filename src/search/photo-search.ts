import { existsSync } from "node:fs";
import path from "node:path";
import { ANN_MIN_VECTORS } from "./ann/vector-index.js";
import { openDatabase } from "./db/schema.js";
import { PhotoStore } from "./db/store.js";
import { unpackFeatures } from "./indexer.js";
import { DEFAULT_EMBEDDING_DIR, type LoadedEmbedding, loadEmbeddingWithId } from "./models.js";
import type { ImageFeatures } from "./pipeline.js";
import { AnnRanker } from "./rankers/ann.js";
import { EmbeddingRanker } from "./rankers/embedding.js";
import { type Ranked, rankFullText } from "./rankers/fts.js";
import { reciprocalRankFusion } from "./rankers/fusion.js";
import { type CaptionScorer, GENERATIVE_MIN_SCORE, scorerReads } from "./rankers/generative.js";
import {
  GENERATIVE_CANDIDATES,
  type PhotoSearch,
  RANKING_METHODS,
  type RankingMethod,
  type SearchAnswer,
  type SearchOptions,
} from "./types.js";

/**
 * Best method measured on Flickr8k val (docs/search.md): generative re-ranking of the embedding's top
 * 32 by the default model's search scorer, text-to-image R@5 0.428 against the embedding's 0.322.
 * Unless a search names it, an index without the caption model's grids (or without a caption model)
 * is ranked by the embedding instead, and the answer says why (`fallback`).
 */
export const DEFAULT_METHOD: RankingMethod = "generative";

export interface OpenPhotoSearchOptions {
  /** Joint-embedding model folder. Default: the one the index was built with, else models/embedding. */
  embeddingModel?: string;
  /** Generative ranking: a scorer, or a factory called on first use (loading a caption model is slow). */
  scorer?: CaptionScorer | (() => Promise<CaptionScorer>);
  /** Method when a search names none. Default DEFAULT_METHOD. */
  defaultMethod?: RankingMethod;
  /** Candidates (the embedding's top, else BM25's) that generative ranking re-scores. Default GENERATIVE_CANDIDATES. */
  generativeCandidates?: number;
  /**
   * How the embedding ranking finds the best vectors: "exact" scans them all (the reference); "ann"
   * uses the HNSW graph `index` saved beside the database; "auto" (default) uses the graph from
   * ANN_MIN_VECTORS vectors on. Without a usable graph every mode scans.
   */
  vectorSearch?: "auto" | "ann" | "exact";
}

/**
 * Opens a photo index for searching (read-only, so it can run beside an `index` run thanks to WAL).
 *
 * @example
 * const photos = await openPhotoSearch("photos.sqlite");
 * const { results, noGoodMatch } = await photos.search("a dog running on the beach", { k: 5 });
 * // results: [{ image, score, caption, good }, ...], the good matches only, best first
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
  return new SqlitePhotoSearch(dbPath, store, dir, embedding, options);
}

class SqlitePhotoSearch implements PhotoSearch {
  private ranker: EmbeddingRanker | AnnRanker | undefined;
  private dataVersion = -1;
  private scorer: CaptionScorer | undefined;

  constructor(
    private readonly dbPath: string,
    private readonly store: PhotoStore,
    private readonly embeddingDir: string,
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

  async search(query: string, options: SearchOptions = {}): Promise<SearchAnswer> {
    const k = Math.max(1, Math.floor(options.k ?? 10));
    const method = options.method ?? this.options.defaultMethod ?? DEFAULT_METHOD;
    if (!RANKING_METHODS.includes(method)) {
      throw new Error(`unknown ranking method "${method}"; use one of ${RANKING_METHODS.join(", ")}`);
    }
    const answer = await this.rank(query, k, method, options.method !== undefined);
    const good = answer.ranked.filter((r) => r.good);
    // generative ranks its whole shortlist: its good matches need not be its best scores
    const kept = (options.includeWeak ? answer.ranked : good).slice(0, k);
    return {
      method: answer.method,
      ...(answer.reason ? { fallback: { from: method, reason: answer.reason } } : {}),
      results: kept.map((r) => ({
        id: r.id,
        image: r.path,
        score: r.score,
        caption: r.caption,
        good: r.good,
      })),
      noGoodMatch: good.length === 0,
    };
  }

  private async rank(
    query: string,
    k: number,
    method: RankingMethod,
    explicit: boolean,
  ): Promise<{ ranked: Ranked[]; method: RankingMethod; reason?: string }> {
    if (method === "fts") return { ranked: rankFullText(this.store, query, k), method };
    const pool = Math.max(k, this.options.generativeCandidates ?? GENERATIVE_CANDIDATES);
    const depth = method === "embedding" ? k : method === "fusion" ? Math.max(100, k) : pool;
    // only an explicit --method embedding insists on vectors; the others say what they did instead
    const byEmbedding = this.rankByEmbedding(query, depth, explicit && method === "embedding");
    if (method === "generative") {
      // re-scores a shortlist from the best cheap method: the embedding (BM25 without one)
      const shortlist = byEmbedding.ranked ?? rankFullText(this.store, query, pool);
      // named explicitly, an empty shortlist loads no model; the default still says when it could not
      if (explicit && shortlist.length === 0) return { ranked: [], method };
      const inputs = await this.generativeInputs(shortlist, explicit);
      if (!("reason" in inputs))
        return { ranked: await this.rerankGenerative(query, shortlist, inputs), method };
      if (byEmbedding.ranked)
        return { ranked: shortlist.slice(0, k), method: "embedding", reason: inputs.reason };
      return {
        ranked: shortlist.slice(0, k),
        method: "fts",
        reason: `${inputs.reason}; ${byEmbedding.reason}`,
      };
    }
    if (!byEmbedding.ranked) {
      return { ranked: rankFullText(this.store, query, k), method: "fts", reason: byEmbedding.reason };
    }
    if (method === "embedding") return { ranked: byEmbedding.ranked, method };
    // fusion: reciprocal-rank fusion of the embedding's and BM25's top lists
    const lists = [{ items: rankFullText(this.store, query, depth) }, { items: byEmbedding.ranked }];
    return { ranked: reciprocalRankFusion(lists, k), method };
  }

  private async rerankGenerative(
    query: string,
    candidates: Ranked[],
    { scorer, features }: { scorer: CaptionScorer; features: ImageFeatures[] },
  ): Promise<Ranked[]> {
    if (candidates.length === 0) return [];
    const scores = await scorer.score(query, features);
    return (
      candidates
        // A likelihood alone says little about a match (on Flickr8k val, 76% of other photos score
        // above -4 for a query, docs/search.md), so a good match must also be one for the shortlist's
        // method, whose threshold was measured.
        .map((c, i) => ({ ...c, score: scores[i]!, good: c.good && scores[i]! >= GENERATIVE_MIN_SCORE }))
        .sort((a, b) => b.score - a.score)
    );
  }

  /**
   * The scorer and the candidates' stored grids, read once per query. When the default method cannot
   * rank generatively (no caption model recorded, it does not load, a grid is missing) it says why;
   * a search that named the method throws instead, saying how to fix the index.
   */
  private async generativeInputs(
    candidates: Ranked[],
    explicit: boolean,
  ): Promise<{ scorer: CaptionScorer; features: ImageFeatures[] } | { reason: string }> {
    if (!explicit && !this.options.scorer && !this.store.getMeta("caption_model_dir"))
      return { reason: "the index records no caption model (rebuild it with `captionkit index`)" };
    let scorer: CaptionScorer;
    try {
      scorer = await this.captionScorer();
    } catch (error) {
      if (explicit) throw error;
      return { reason: `the caption model did not load: ${(error as Error).message}` };
    }
    const features: ImageFeatures[] = [];
    for (const c of candidates) {
      const stored = this.store.features(c.id).find((f) => scorerReads(scorer.encoder, f.encoder) && f.grid);
      if (!stored) {
        const missing = `the index has no ${scorer.encoder} grid features for ${c.path}`;
        if (explicit)
          throw new Error(
            `${missing}; rebuild it with \`captionkit index\` and the same caption model to use --method generative`,
          );
        return { reason: `${missing} (rebuild it with \`captionkit index\`)` };
      }
      features.push(unpackFeatures(stored));
    }
    return { scorer, features };
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

  /**
   * The embedding's top `depth`, or why there is none. Vectors are cached in memory and reloaded when
   * another connection (an index run) has committed. `required`: throw instead of giving a reason.
   */
  private rankByEmbedding(
    query: string,
    depth: number,
    required: boolean,
  ): { ranked: Ranked[]; reason?: undefined } | { ranked?: undefined; reason: string } {
    const fail = (reason: string, fix: string) => {
      if (required) throw new Error(`${reason}; ${fix}`);
      return { reason };
    };
    if (!this.embedding) {
      return fail(
        `no joint-embedding model found (looked in ${this.embeddingDir})`,
        "pass --embedding-model DIR or use --method fts",
      );
    }
    const version = this.store.db.pragma("data_version", { simple: true }) as number;
    if (!this.ranker || version !== this.dataVersion) {
      this.ranker = this.vectorRanker(this.embedding);
      this.dataVersion = version;
    }
    if (this.ranker.size === 0 && this.store.count() > 0) {
      return fail(
        `the index has no vectors from embedding model ${this.embedding.id}`,
        "rerun `captionkit index` to add them",
      );
    }
    const ranked = this.ranker.rank(query, depth);
    // not an error even when required: the caption words are then all there is to go by
    return ranked ? { ranked } : { reason: "no word of the query is known to the joint-embedding model" };
  }

  /** The graph when the mode and size call for it and one is usable, else the exact scan. */
  private vectorRanker(embedding: LoadedEmbedding): EmbeddingRanker | AnnRanker {
    const mode = this.options.vectorSearch ?? "auto";
    const wanted =
      mode === "ann" || (mode === "auto" && this.store.embeddingCount(embedding.id) >= ANN_MIN_VECTORS);
    if (wanted) {
      if (this.ranker instanceof AnnRanker && this.ranker.refresh()) return this.ranker;
      const ann = AnnRanker.open(this.dbPath, this.store, embedding.model, embedding.id);
      if (ann) return ann;
    }
    return new EmbeddingRanker(this.store, embedding.model, embedding.id);
  }

  close(): void {
    this.scorer?.dispose();
    this.store.db.close();
  }
}

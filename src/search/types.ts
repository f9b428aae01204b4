export type RankingMethod = "fts" | "generative" | "embedding" | "fusion";
/** Here, not in photo-search.ts, so the CLI can list them without loading better-sqlite3. */
export const RANKING_METHODS: readonly RankingMethod[] = ["fts", "generative", "embedding", "fusion"];

/**
 * The embedding's top that generative ranking re-scores. On Flickr8k val, 32 ranked as well as 50
 * (t2i R@5 0.428 against 0.414) at two thirds of the cost, under the 200 ms search budget.
 */
export const GENERATIVE_CANDIDATES = 32;

export interface SearchResult {
  /** The image's id in the index (PhotoSearch.imagePath resolves it). */
  id: number;
  /** Path of the image as indexed. */
  image: string;
  /** Higher is better; comparable only within one query and method. */
  score: number;
  caption: string;
  /** The score clears the method's threshold (docs/search.md); false only with `includeWeak`. */
  good: boolean;
}

export interface SearchOptions {
  /** Results to return at most. Default 10. */
  k?: number;
  /** Default: the best method measured on Flickr8k val (see docs/search.md). */
  method?: RankingMethod;
  /** Keep results below the method's threshold (flagged `good: false`) instead of cutting them. */
  includeWeak?: boolean;
}

export interface SearchAnswer {
  /** The method that ranked the results. */
  method: RankingMethod;
  /** Set when that is not the method asked for (or the default one): which it was, and why not. */
  fallback?: { from: RankingMethod; reason: string };
  /** Best first: the good matches, then (with `includeWeak`) the weak ones, at most k in all. */
  results: SearchResult[];
  /** No indexed photo cleared the method's threshold: the index holds nothing that matches well. */
  noGoodMatch: boolean;
}

/** An opened photo index (one SQLite file) that answers text queries. */
export interface PhotoSearch {
  search(query: string, options?: SearchOptions): Promise<SearchAnswer>;
  /** Number of indexed images. */
  count(): number;
  /** The indexed path of an image id, or undefined for an id the index does not hold. */
  imagePath(id: number): string | undefined;
  /** The deepest folder holding every indexed image (undefined for an empty index). */
  folder(): string | undefined;
  close(): void;
}

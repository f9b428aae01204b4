export type RankingMethod = "fts" | "generative" | "embedding" | "fusion";

export interface SearchResult {
  /** Path of the image as indexed. */
  image: string;
  /** Higher is better; comparable only within one query and method. */
  score: number;
  caption: string;
}

export interface SearchOptions {
  /** Results to return. Default 10. */
  k?: number;
  /** Default: the best method measured on Flickr8k val (see docs/search.md). */
  method?: RankingMethod;
}

/** An opened photo index (one SQLite file) that answers text queries. */
export interface PhotoSearch {
  search(query: string, options?: SearchOptions): Promise<SearchResult[]>;
  /** Number of indexed images. */
  count(): number;
  close(): void;
}

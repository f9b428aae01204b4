export type RankingMethod = "fts" | "generative" | "embedding" | "fusion";

export interface SearchResult {
  /** The image's id in the index (PhotoSearch.imagePath resolves it). */
  id: number;
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
  /** The indexed path of an image id, or undefined for an id the index does not hold. */
  imagePath(id: number): string | undefined;
  /** The deepest folder holding every indexed image (undefined for an empty index). */
  folder(): string | undefined;
  close(): void;
}

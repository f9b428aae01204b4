export type { PhotoSearch, RankingMethod, SearchOptions, SearchResult } from "./types.js";

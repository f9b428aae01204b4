import type { PhotoStore } from "../db/store.js";
import { tokenize } from "../embedding/text-features.js";

export interface Ranked {
  id: number;
  path: string;
  caption: string;
  score: number;
}

/**
 * FTS5 expression for a free-text query: every word as a quoted term joined by OR, so a caption
 * matching some of the words still ranks (BM25 orders by how many and how rare). Quoting keeps FTS5
 * syntax (AND, NEAR, *, ") in a user's query from being interpreted.
 */
export function ftsExpression(query: string): string | undefined {
  const words = [...new Set(tokenize(query))];
  if (words.length === 0) return undefined;
  return words.map((w) => `"${w.replaceAll('"', '""')}"`).join(" OR ");
}

/** BM25 over the generated captions; score = -bm25 so that higher is better like the other methods. */
export function rankFullText(store: PhotoStore, query: string, k: number): Ranked[] {
  const match = ftsExpression(query);
  if (!match) return [];
  return store
    .fullText(match, k)
    .map((r) => ({ id: r.id, path: r.path, caption: r.caption, score: -r.rank }));
}

import { FUNCTION_WORDS } from "../../metrics/meteor/function-words.js";
import type { PhotoStore } from "../db/store.js";
import { tokenize } from "../embedding/text-features.js";

export interface Ranked {
  id: number;
  path: string;
  caption: string;
  score: number;
  /** The score clears its method's threshold: a plausible match, not merely the least bad one. */
  good: boolean;
}

/**
 * Share of a query's content words a caption must contain to count as a good full-text match:
 * all of one or two words, two of three, three of four or five.
 */
export const FTS_MIN_COVERAGE = 2 / 3;

/**
 * The words of a query that full-text search looks for: function words ("a", "the", "on") are
 * dropped, since nearly every caption has them and OR-ing them in matched almost every photo. A
 * query made only of function words keeps them all, so it still finds something.
 */
export function contentTerms(query: string): string[] {
  const words = [...new Set(tokenize(query))];
  const content = words.filter((w) => !FUNCTION_WORDS.has(w));
  return content.length > 0 ? content : words;
}

/** A word as an FTS5 string: quoting keeps FTS5 syntax (AND, NEAR, *, ") in a query literal. */
function quoted(word: string): string {
  return `"${word.replaceAll('"', '""')}"`;
}

/** FTS5 expression matching a caption that has any of the query's content words. */
export function ftsExpression(query: string): string | undefined {
  const terms = contentTerms(query);
  return terms.length > 0 ? terms.map(quoted).join(" OR ") : undefined;
}

/**
 * Full-text ranking over the generated captions (FTS5, Porter-stemmed): captions with more of the
 * query's content words rank first, BM25 orders those with as many. score = number of content words
 * matched + BM25 squashed into [0, 1), so higher is better and the rank follows the score.
 */
export function rankFullText(store: PhotoStore, query: string, k: number): Ranked[] {
  const terms = contentTerms(query);
  if (terms.length === 0) return [];
  const matched = new Map<number, number>();
  for (const term of terms) {
    for (const id of store.fullTextIds(quoted(term))) matched.set(id, (matched.get(id) ?? 0) + 1);
  }
  const needed = Math.ceil(terms.length * FTS_MIN_COVERAGE - 1e-9);
  return store
    .fullText(terms.map(quoted).join(" OR "), -1)
    .map((r) => {
      const count = matched.get(r.id) ?? 1;
      const bm25 = -r.rank; // SQLite's bm25() is negative, lower is better
      return {
        id: r.id,
        path: r.path,
        caption: r.caption,
        score: count + bm25 / (1 + bm25),
        good: count >= needed,
      };
    })
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

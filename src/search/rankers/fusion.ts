import type { Ranked } from "./fts.js";

/**
 * Reciprocal-rank fusion (Cormack et al. 2009): score = sum over lists of weight / (k0 + rank). It
 * needs no score calibration between methods, which matters because BM25, cosines and
 * log-probabilities live on unrelated scales. k0 = 60 is the paper's constant. An item is a good
 * match when it is one in any of the lists (an RRF score says nothing about absolute quality).
 */
export function reciprocalRankFusion(
  lists: { items: Ranked[]; weight?: number }[],
  k: number,
  k0 = 60,
): Ranked[] {
  const fused = new Map<number, Ranked>();
  for (const { items, weight = 1 } of lists) {
    items.forEach((item, rank) => {
      const entry = fused.get(item.id) ?? { ...item, score: 0, good: false };
      entry.score += weight / (k0 + rank + 1);
      entry.good ||= item.good;
      fused.set(item.id, entry);
    });
  }
  return [...fused.values()].sort((a, b) => b.score - a.score).slice(0, k);
}

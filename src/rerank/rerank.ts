/** A proposal to re-rank: its words and summed log-probability. */
export interface RankedProposal {
  words: readonly string[];
  logProb: number;
}

/**
 * Re-orders an image's beam proposals using the image's vector (the decoder's imageVectors row): a
 * caption memory (caption-memory.ts) or a model's n-gram prior (ngram-prior.ts).
 */
export interface ProposalRanker {
  rank(proposals: readonly RankedProposal[], vector: Float32Array): number[];
}

/**
 * The proposals' indices, best first, by log p / words^alpha + weight x agreement(words). Ties keep the
 * given order, so with weight 0 and alpha 0 the beam's own order stays.
 */
export function rankProposals(
  proposals: readonly RankedProposal[],
  alpha: number,
  weight: number,
  agreement: (words: readonly string[]) => number,
): number[] {
  if (proposals.length < 2) return proposals.map((_, i) => i);
  const scores = proposals.map(
    (p) =>
      p.logProb / Math.max(1, p.words.length) ** alpha + (weight === 0 ? 0 : weight * agreement(p.words)),
  );
  return scores
    .map((score, i) => [score, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .map(([, i]) => i);
}

/** A proposal to re-rank: its words and summed log-probability. */
export interface RankedProposal {
  words: readonly string[];
  logProb: number;
}

/**
 * Scores an image's beam proposals using the image's vector (the decoder's imageVectors row): a
 * caption memory (caption-memory.ts) or a model's n-gram prior (ngram-prior.ts). Higher is better; the
 * caption model ranks by these scores and derives the alternatives' confidences from them.
 */
export interface ProposalRanker {
  /** Each proposal's ranking score, in the given order. */
  score(proposals: readonly RankedProposal[], vector: Float32Array): number[];
}

/** Scores as log p / words^alpha + weight x agreement(words). */
export function proposalScores(
  proposals: readonly RankedProposal[],
  alpha: number,
  weight: number,
  agreement: (words: readonly string[]) => number,
): number[] {
  return proposals.map(
    (p) =>
      p.logProb / Math.max(1, p.words.length) ** alpha + (weight === 0 ? 0 : weight * agreement(p.words)),
  );
}

/** Indices, best score first; ties keep the given order (so equal scores leave the beam's order). */
export function orderByScore(scores: readonly number[]): number[] {
  return scores
    .map((score, i) => [score, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .map(([, i]) => i);
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
  return orderByScore(proposalScores(proposals, alpha, weight, agreement));
}

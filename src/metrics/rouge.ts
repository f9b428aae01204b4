import { type Candidates, type MetricResult, pairUp, type References } from "./types.js";

/**
 * ROUGE-L as pycocoevalcap's rouge.py computes it. Hand-written (not an npm ROUGE package) because
 * the reference takes the maximum precision and the maximum recall over the references separately
 * (not the best F), uses beta 1.2, splits on single spaces, and averages per-image scores.
 */

const BETA = 1.2;

/** Length of the longest common subsequence, one DP row at a time. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  let previous = new Int32Array(short.length + 1);
  let current = new Int32Array(short.length + 1);
  for (let i = 1; i <= long.length; i++) {
    const token = long[i - 1];
    for (let j = 1; j <= short.length; j++) {
      current[j] = token === short[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    }
    [previous, current] = [current, previous];
  }
  return previous[short.length]!;
}

/** ROUGE-L of one candidate against its references. */
export function rougeLSentence(candidate: string, references: readonly string[]): number {
  // rouge.py uses split(" "): an empty caption is one empty token, as there.
  const candidateTokens = candidate.split(" ");
  let precision = 0;
  let recall = 0;
  for (const reference of references) {
    const referenceTokens = reference.split(" ");
    const lcs = lcsLength(referenceTokens, candidateTokens);
    precision = Math.max(precision, lcs / candidateTokens.length);
    recall = Math.max(recall, lcs / referenceTokens.length);
  }
  if (precision === 0 || recall === 0) return 0;
  return ((1 + BETA ** 2) * precision * recall) / (recall + BETA ** 2 * precision);
}

/** ROUGE-L: the corpus score is the mean of the per-image scores. */
export function rougeL(candidates: Candidates, references: References): MetricResult {
  const perImage = new Map<string, number>();
  let sum = 0;
  for (const { id, candidate, references: refs } of pairUp(candidates, references)) {
    const score = rougeLSentence(candidate, refs);
    perImage.set(id, score);
    sum += score;
  }
  return { corpus: sum / perImage.size, perImage };
}

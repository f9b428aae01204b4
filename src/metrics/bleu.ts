import { buildNgramCorpus, type NgramBag, type NgramCorpus, type NgramTable } from "./ngrams.js";
import type { Candidates, References } from "./types.js";

/**
 * BLEU-1..4 exactly as pycocoevalcap's bleu_scorer.py computes it with option "closest".
 * Hand-written rather than taken from a BLEU library because those smooth, pick the effective
 * reference length differently or score per sentence; the COCO numbers need this exact recipe:
 * clipped n-gram counts summed over the corpus, per-image effective reference length = the closest
 * reference length (ties to the shorter), one brevity penalty on the corpus totals, and only the
 * reference's tiny/small constants as "smoothing" (so BLEU-4 is ~0 when no 4-gram matches).
 */

const TINY = 1e-15;
const SMALL = 1e-9;
const MAX_N = 4;

export interface BleuResult {
  /** corpus[k] = BLEU-(k+1). */
  corpus: number[];
  /** Per image, [BLEU-1, ..., BLEU-4] as bleu_scorer.py's per-image list computes them. */
  perImage: Map<string, number[]>;
}

interface ImageStats {
  testLength: number;
  refLength: number;
  guess: number[];
  correct: number[];
}

/** Clipped n-gram matches of one image; `maxCounts` is a zeroed scratch array indexed by n-gram id. */
function imageStats(
  candidate: NgramBag,
  references: readonly NgramBag[],
  table: NgramTable,
  maxCounts: Float64Array,
): ImageStats {
  const { ids, counts, order } = table;
  for (const ref of references) {
    for (let k = ref.start; k < ref.end; k++) {
      const id = ids[k]!;
      if (counts[k]! > maxCounts[id]!) maxCounts[id] = counts[k]!;
    }
  }
  const testLength = candidate.length;
  // min over (|l - testlen|, l) tuples: closest length, the shorter one on a tie.
  let refLength = references[0]!.length;
  for (const { length } of references) {
    const d = Math.abs(length - testLength);
    const best = Math.abs(refLength - testLength);
    if (d < best || (d === best && length < refLength)) refLength = length;
  }
  const guess = Array.from({ length: MAX_N }, (_, k) => Math.max(0, testLength - k));
  const correct = new Array<number>(MAX_N).fill(0);
  for (let k = candidate.start; k < candidate.end; k++) {
    const id = ids[k]!;
    correct[order[id]! - 1]! += Math.min(maxCounts[id]!, counts[k]!);
  }
  for (const ref of references) for (let k = ref.start; k < ref.end; k++) maxCounts[ids[k]!] = 0;
  return { testLength, refLength, guess, correct };
}

function bleuFrom(correct: number[], guess: number[], testLength: number, refLength: number): number[] {
  const scores: number[] = [];
  let product = 1;
  for (let k = 0; k < MAX_N; k++) {
    product *= (correct[k]! + TINY) / (guess[k]! + SMALL);
    scores.push(product ** (1 / (k + 1)));
  }
  const ratio = (testLength + TINY) / (refLength + SMALL);
  if (ratio < 1) {
    const penalty = Math.exp(1 - 1 / ratio);
    for (let k = 0; k < MAX_N; k++) scores[k]! *= penalty;
  }
  return scores;
}

/** BLEU-1..4, corpus and per image, over tokenized candidates and references. */
export function bleu(candidates: Candidates, references: References): BleuResult {
  return bleuFromCorpus(buildNgramCorpus(candidates, references, MAX_N));
}

/** BLEU over an already bagged corpus (shared with CIDEr-D by scoreCaptions). */
export function bleuFromCorpus(corpus: NgramCorpus): BleuResult {
  const perImage = new Map<string, number[]>();
  const guess = new Array<number>(MAX_N).fill(0);
  const correct = new Array<number>(MAX_N).fill(0);
  let testLength = 0;
  let refLength = 0;
  const { table } = corpus;
  const maxCounts = new Float64Array(table.size);
  for (const { id, candidate, references: refs } of corpus.images) {
    const stats = imageStats(candidate, refs, table, maxCounts);
    testLength += stats.testLength;
    refLength += stats.refLength;
    for (let k = 0; k < MAX_N; k++) {
      guess[k]! += stats.guess[k]!;
      correct[k]! += stats.correct[k]!;
    }
    perImage.set(id, bleuFrom(stats.correct, stats.guess, stats.testLength, stats.refLength));
  }
  return { corpus: bleuFrom(correct, guess, testLength, refLength), perImage };
}

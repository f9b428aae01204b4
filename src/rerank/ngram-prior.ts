import { normalizeParts } from "../features/normalize-parts.js";
import { orderByScore, type ProposalRanker, proposalScores, type RankedProposal } from "./rerank.js";

/**
 * A model's n-gram prior: what a caption memory's consensus (caption-memory.ts) knows, learned into
 * weights so that it can ship with the model. Mean CIDEr-D against a set of captions is, without
 * CIDEr-D's clipping, the cosine between the candidate's tf-idf n-gram vector and the mean of the
 * captions' unit tf-idf vectors. A ridge regression (ngram-prior-fit.ts) learns that mean from the
 * photo's vector, over the n-grams that occur in the captions of many training photos, plus the
 * captions' mean length. Re-ranking a beam by agreement with the prediction then needs no captions at
 * run time, only the regression's weights and the n-gram list: common phrases, not anyone's caption.
 */
export interface PriorSettings {
  /** Weight of the agreement (about 0..3, like a mean CIDEr-D) against log p / length^alpha (nats). */
  weight: number;
  /** Length normalisation of the log-probability part. */
  alpha: number;
}

export const DEFAULT_PRIOR_SETTINGS: PriorSettings = { weight: 4, alpha: 0.5 };

/** Highest n-gram order, as in CIDEr-D. */
export const PRIOR_ORDER = 4;
/** CIDEr-D's Gaussian length penalty (sigma 6, on bigram counts) and x10 scale. */
const SIGMA = 6;
const SCALE = 10;

export interface NgramPriorData {
  /** Widths of the vector's parts (one per ensemble member); they sum to the vector width. */
  parts: number[];
  /** Per-part mean subtracted before normalising, [sum(parts)]. */
  mean: Float32Array;
  /** The n-grams predicted, words joined by single spaces, orders 1..4. */
  ngrams: string[];
  /** Per n-gram, how many training photos' captions contain it (for its idf). */
  documentFrequency: number[];
  /** Training photos the frequencies count over. */
  photos: number;
  /** Document frequency assumed for an n-gram not in the list (it was rarer than the list's cut-off). */
  unseenFrequency: number;
  /**
   * Regression weights, [(width + 1) x (ngrams + 1)] row-major: the last row is the bias, the last
   * column predicts the captions' mean bigram count.
   */
  weights: Float32Array;
  settings: PriorSettings;
}

/** A caption's unit tf-idf n-gram vector per order, each order weighted 1/4, on the listed n-grams. */
export interface NgramProfile {
  columns: number[];
  values: number[];
  /** Bigram count: CIDEr-D's length. */
  length: number;
}

/**
 * The profile of a caption: per order, tf x log(photos / max(1, df)) over all its n-grams, divided by
 * that order's norm and by 4; entries for n-grams outside `columns` count in the norm but are dropped.
 */
export function ngramProfile(
  words: readonly string[],
  columns: ReadonlyMap<string, number>,
  frequency: (ngram: string) => number,
  photos: number,
): NgramProfile {
  const profile: NgramProfile = { columns: [], values: [], length: Math.max(0, words.length - 1) };
  const logPhotos = Math.log(photos);
  for (let n = 1; n <= PRIOR_ORDER; n++) {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= words.length; i++) {
      const gram = words.slice(i, i + n).join(" ");
      counts.set(gram, (counts.get(gram) ?? 0) + 1);
    }
    let squares = 0;
    const weighted: [string, number][] = [];
    for (const [gram, tf] of counts) {
      const w = tf * (logPhotos - Math.log(Math.max(1, frequency(gram))));
      squares += w * w;
      weighted.push([gram, w]);
    }
    if (squares === 0) continue;
    const scale = 1 / (Math.sqrt(squares) * PRIOR_ORDER);
    for (const [gram, w] of weighted) {
      const column = columns.get(gram);
      if (column === undefined) continue;
      profile.columns.push(column);
      profile.values.push(w * scale);
    }
  }
  return profile;
}

/** What the prior expects of a photo's captions. */
export interface PriorPrediction {
  /** Expected profile value per listed n-gram. */
  profile: Float32Array;
  /** Expected bigram count. */
  length: number;
}

export class NgramPrior implements ProposalRanker {
  readonly width: number;
  private readonly columns: Map<string, number>;
  private readonly frequency: (ngram: string) => number;

  constructor(readonly data: NgramPriorData) {
    this.width = data.parts.reduce((a, b) => a + b, 0);
    const outputs = data.ngrams.length + 1;
    if (data.mean.length !== this.width)
      throw new Error(`n-gram prior: mean has ${data.mean.length} values, parts sum to ${this.width}`);
    if (data.documentFrequency.length !== data.ngrams.length)
      throw new Error(
        `n-gram prior: ${data.documentFrequency.length} frequencies for ${data.ngrams.length} n-grams`,
      );
    if (data.weights.length !== (this.width + 1) * outputs)
      throw new Error(
        `n-gram prior: ${data.weights.length} weights, expected (${this.width} + 1) x (${data.ngrams.length} + 1)`,
      );
    this.columns = new Map(data.ngrams.map((gram, i) => [gram, i]));
    const frequencies = data.documentFrequency;
    this.frequency = (gram) => {
      const column = this.columns.get(gram);
      return column === undefined ? data.unseenFrequency : (frequencies[column] as number);
    };
  }

  get settings(): PriorSettings {
    return this.data.settings;
  }

  /** The expected profile and length of the captions of the photo with this (raw) image vector. */
  predict(raw: Float32Array): PriorPrediction {
    if (raw.length !== this.width)
      throw new Error(`n-gram prior: image vector has ${raw.length} values, expected ${this.width}`);
    const x = normalizeParts(raw, this.data.mean, this.data.parts);
    const outputs = this.data.ngrams.length + 1;
    const { weights } = this.data;
    const out = new Float64Array(outputs);
    // four weight rows per pass over `out`: a quarter of its loads and stores, 2.2x faster than one
    // row at a time on the default model's 1,201 x 1,416 weights (~5 ms a photo before)
    let j = 0;
    for (; j + 4 <= this.width; j += 4) {
      const [a, b, c, d] = [x[j]!, x[j + 1]!, x[j + 2]!, x[j + 3]!];
      const r0 = j * outputs;
      const [r1, r2, r3] = [r0 + outputs, r0 + 2 * outputs, r0 + 3 * outputs];
      for (let o = 0; o < outputs; o++)
        out[o] =
          out[o]! +
          (a * weights[r0 + o]! + b * weights[r1 + o]! + c * weights[r2 + o]! + d * weights[r3 + o]!);
    }
    for (; j <= this.width; j++) {
      const xj = j === this.width ? 1 : (x[j] as number);
      const row = j * outputs;
      for (let o = 0; o < outputs; o++) out[o]! += xj * weights[row + o]!;
    }
    return { profile: Float32Array.from(out.subarray(0, outputs - 1)), length: out[outputs - 1]! };
  }

  /** The caption's profile under this prior's n-grams and frequencies. */
  profile(words: readonly string[]): NgramProfile {
    return ngramProfile(words, this.columns, this.frequency, this.data.photos);
  }

  /** Agreement of a caption with a prediction, on mean CIDEr-D's scale (x10, length penalty). */
  agreement(words: readonly string[], prediction: PriorPrediction): number {
    const { columns, values, length } = this.profile(words);
    let dot = 0;
    for (let i = 0; i < columns.length; i++) dot += values[i]! * prediction.profile[columns[i]!]!;
    const delta = length - prediction.length;
    // Both profiles weight each order 1/4, so dot is a sixteenth of the summed cosines; CIDEr-D is
    // ten times their mean.
    return SCALE * PRIOR_ORDER * dot * Math.exp(-(delta * delta) / (2 * SIGMA * SIGMA));
  }

  /** The proposals' indices, best first, by log p / length^alpha + weight x agreement. */
  rank(proposals: readonly RankedProposal[], raw: Float32Array): number[] {
    if (proposals.length < 2) return proposals.map((_, i) => i);
    return orderByScore(this.score(proposals, raw));
  }

  /** Each proposal's log p / length^alpha + weight x agreement. */
  score(proposals: readonly RankedProposal[], raw: Float32Array): number[] {
    const prediction = this.predict(raw);
    return proposalScores(proposals, this.settings.alpha, this.settings.weight, (words) =>
      this.agreement(words, prediction),
    );
  }
}

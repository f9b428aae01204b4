import { CholeskyDecomposition, Matrix } from "ml-matrix";
import {
  DEFAULT_PRIOR_SETTINGS,
  type NgramPriorData,
  ngramProfile,
  PRIOR_ORDER,
  type PriorSettings,
} from "./ngram-prior.js";

export interface FitPriorOptions {
  /** Keep n-grams that occur in the captions of at least this many photos. Default 50. */
  minPhotos?: number;
  /** Ridge penalty on the regression weights. Default 0.3. */
  ridge?: number;
  settings?: PriorSettings;
}

/** What a prior is fitted on: a caption memory's contents (its vectors are already normalised). */
export interface PriorTrainingSet {
  parts: number[];
  mean: Float32Array;
  /** [photos, sum(parts)], each part centred and unit length. */
  vectors: Float32Array;
  /** Per photo, its tokenized captions. */
  captions: readonly (readonly (readonly string[])[])[];
}

/**
 * Fits an n-gram prior by ridge regression: from each photo's vector (plus a bias) to the mean of its
 * captions' profiles and their mean bigram count. The normal equations are (width + 1) square, about
 * 1,200 for the default model, so they are solved exactly (Cholesky, ml-matrix) instead of by gradient
 * descent.
 */
export function fitNgramPrior(set: PriorTrainingSet, options: FitPriorOptions = {}): NgramPriorData {
  const minPhotos = options.minPhotos ?? 50;
  const ridge = options.ridge ?? 0.3;
  const photos = set.captions.length;
  const width = set.parts.reduce((a, b) => a + b, 0);
  if (photos === 0) throw new Error("n-gram prior: no photos to fit on");
  if (set.vectors.length !== photos * width)
    throw new Error(
      `n-gram prior: ${set.vectors.length} vector values for ${photos} photos of width ${width}`,
    );

  const frequency = new Map<string, number>();
  for (const captions of set.captions) {
    const seen = new Set<string>();
    for (const words of captions)
      for (let n = 1; n <= PRIOR_ORDER; n++)
        for (let i = 0; i + n <= words.length; i++) seen.add(words.slice(i, i + n).join(" "));
    for (const gram of seen) frequency.set(gram, (frequency.get(gram) ?? 0) + 1);
  }
  const ngrams = [...frequency]
    .filter(([, df]) => df >= minPhotos)
    .map(([gram]) => gram)
    .sort((a, b) => a.split(" ").length - b.split(" ").length || (a < b ? -1 : a > b ? 1 : 0));
  if (ngrams.length === 0)
    throw new Error(`n-gram prior: no n-gram occurs in the captions of ${minPhotos} photos; lower minPhotos`);
  const columns = new Map(ngrams.map((gram, i) => [gram, i]));
  const lookup = (gram: string) => frequency.get(gram) ?? 0;

  const inputs = width + 1;
  const outputs = ngrams.length + 1;
  const gram = new Float64Array(inputs * inputs);
  const crossed = new Float64Array(inputs * outputs);
  const x = new Float64Array(inputs);
  for (let p = 0; p < photos; p++) {
    for (let j = 0; j < width; j++) x[j] = set.vectors[p * width + j]!;
    x[width] = 1;
    for (let a = 0; a < inputs; a++) {
      const xa = x[a]!;
      if (xa === 0) continue;
      const row = a * inputs;
      for (let b = a; b < inputs; b++) gram[row + b]! += xa * x[b]!;
    }
    // The photo's target: the mean of its captions' profiles, and their mean length.
    const captions = set.captions[p]!;
    const target = new Map<number, number>();
    let length = 0;
    for (const words of captions) {
      const profile = ngramProfile(words, columns, lookup, photos);
      for (let i = 0; i < profile.columns.length; i++)
        target.set(profile.columns[i]!, (target.get(profile.columns[i]!) ?? 0) + profile.values[i]!);
      length += profile.length;
    }
    target.set(outputs - 1, length);
    const share = 1 / Math.max(1, captions.length);
    for (const [column, value] of target) {
      const v = value * share;
      for (let a = 0; a < inputs; a++) crossed[a * outputs + column]! += x[a]! * v;
    }
  }
  const lhs = Matrix.zeros(inputs, inputs);
  for (let a = 0; a < inputs; a++)
    for (let b = a; b < inputs; b++) {
      const v = gram[a * inputs + b]! + (a === b ? ridge : 0);
      lhs.set(a, b, v);
      lhs.set(b, a, v);
    }
  const rhs = Matrix.zeros(inputs, outputs);
  for (let a = 0; a < inputs; a++) for (let o = 0; o < outputs; o++) rhs.set(a, o, crossed[a * outputs + o]!);
  const cholesky = new CholeskyDecomposition(lhs);
  if (!cholesky.isPositiveDefinite())
    throw new Error("n-gram prior: the normal equations are singular; raise the ridge penalty");
  const solved = cholesky.solve(rhs);
  const weights = new Float32Array(inputs * outputs);
  for (let a = 0; a < inputs; a++)
    for (let o = 0; o < outputs; o++) weights[a * outputs + o] = solved.get(a, o);

  return {
    parts: [...set.parts],
    mean: Float32Array.from(set.mean),
    ngrams,
    documentFrequency: ngrams.map(lookup),
    photos,
    // An n-gram left out occurs in 0..minPhotos-1 photos' captions: assume the middle (measured: better
    // than assuming 1, docs/results/generation.md).
    unseenFrequency: Math.max(1, Math.round(minPhotos / 2)),
    weights,
    settings: options.settings ?? DEFAULT_PRIOR_SETTINGS,
  };
}

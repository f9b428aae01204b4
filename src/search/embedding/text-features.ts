import { ptbTokenize } from "../../data/ptb-tokenizer.js";

export interface TextFeaturizerJson {
  /** Unigrams, then bigrams written "a b"; the index is the row of the word-embedding matrix. */
  terms: string[];
}

export interface TextFeaturizerOptions {
  /** Keep unigrams seen at least this often in the training captions. Default 2. */
  minUnigramCount?: number;
  /** Keep bigrams seen at least this often. Default 10; 0 disables bigrams. */
  minBigramCount?: number;
}

/**
 * Turns text into a bag of unigrams and frequent bigrams over a fixed term list. The bag is a dense
 * multi-hot row that is multiplied by the embedding matrix: a matMul has a wasm gradient, whereas the
 * gather behind an embedding lookup does not (no UnsortedSegmentSum kernel on tfjs wasm).
 */
export class TextFeaturizer {
  readonly terms: readonly string[];
  private readonly ids: Map<string, number>;

  constructor(json: TextFeaturizerJson) {
    this.terms = json.terms;
    this.ids = new Map(json.terms.map((term, index) => [term, index]));
  }

  static build(captions: Iterable<string>, options: TextFeaturizerOptions = {}): TextFeaturizer {
    const minUni = options.minUnigramCount ?? 2;
    const minBi = options.minBigramCount ?? 10;
    const uni = new Map<string, number>();
    const bi = new Map<string, number>();
    for (const caption of captions) {
      const words = tokenize(caption);
      words.forEach((word, i) => {
        uni.set(word, (uni.get(word) ?? 0) + 1);
        if (i > 0) {
          const pair = `${words[i - 1]} ${word}`;
          bi.set(pair, (bi.get(pair) ?? 0) + 1);
        }
      });
    }
    // Frequency order with alphabetical ties, so a rebuild from the same captions is identical.
    const keep = (counts: Map<string, number>, min: number) =>
      [...counts.entries()]
        .filter(([, count]) => min > 0 && count >= min)
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .map(([term]) => term);
    return new TextFeaturizer({ terms: [...keep(uni, minUni), ...keep(bi, minBi)] });
  }

  get size(): number {
    return this.terms.length;
  }

  /** Term ids present in the text (repeats kept: "two dogs and two cats" counts "two" twice). */
  termIds(text: string): number[] {
    const words = tokenize(text);
    const ids: number[] = [];
    words.forEach((word, i) => {
      const uni = this.ids.get(word);
      if (uni !== undefined) ids.push(uni);
      if (i > 0) {
        const pair = this.ids.get(`${words[i - 1]} ${word}`);
        if (pair !== undefined) ids.push(pair);
      }
    });
    return ids;
  }

  /**
   * Writes the mean bag of term ids into row `row` of a [rows, size] matrix, so that
   * bag x embeddings = the mean of the term embeddings. An all-unknown text leaves a zero row.
   */
  fillBag(ids: readonly number[], out: Float32Array, row: number): void {
    if (ids.length === 0) return;
    const weight = 1 / ids.length;
    const base = row * this.terms.length;
    for (const id of ids) out[base + id]! += weight;
  }

  toJSON(): TextFeaturizerJson {
    return { terms: [...this.terms] };
  }
}

/** The metrics' PTB tokenizer lowercases and splits clitics; punctuation tokens carry no meaning here. */
export function tokenize(text: string): string[] {
  return ptbTokenize(text).filter((token) => /[a-z0-9]/.test(token));
}

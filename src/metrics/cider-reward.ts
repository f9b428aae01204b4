/**
 * CIDEr-D as an SCST reward. metrics/cider.ts scores an evaluation set and takes document frequencies
 * from that set's own references, which is right for reporting but noisy as a reward: a 32-image batch
 * gives idf values that swing from step to step. Self-critical training (Rennie et al. 2017; Luo 2020)
 * uses document frequencies of the whole training corpus instead, and scores thousands of samples per
 * minute, so this keeps every reference's tf-idf vector precomputed. The per-sentence arithmetic is the
 * reference's (clipped min(vh, vr) * vr, bigram-count length, sigma 6, x10); with the same corpus it
 * equals metrics/cider.ts, which the test checks.
 */

const N = 4;
const SIGMA = 6;

interface Vector {
  /** n-gram (words joined by spaces) -> tf-idf weight, one map per order. */
  weights: Map<string, number>[];
  norms: number[];
  /** Bigram count: the reference implementation's "length". */
  length: number;
}

function countNgrams(words: readonly string[]): Map<string, number>[] {
  const counts = Array.from({ length: N }, () => new Map<string, number>());
  for (let i = 0; i < words.length; i++) {
    // each n-gram starting at i extends the one before it by a word
    let gram = "";
    for (let n = 1; n <= N && i + n <= words.length; n++) {
      gram = n === 1 ? words[i]! : `${gram} ${words[i + n - 1]!}`;
      const table = counts[n - 1]!;
      table.set(gram, (table.get(gram) ?? 0) + 1);
    }
  }
  return counts;
}

export class CiderReward {
  private readonly logDocuments: number;
  /** Per n-gram order, in how many images' reference sets each n-gram occurs. */
  private readonly documentFrequency = Array.from({ length: N }, () => new Map<string, number>());
  /** Per image, its captions' n-gram counts; turned into tf-idf vectors on first use (see score). */
  private readonly counted = new Map<string, Map<string, number>[][]>();
  private readonly references = new Map<string, Vector[]>();

  /** `corpus`: image id -> tokenized reference captions; it sets the document frequencies. */
  constructor(corpus: ReadonlyMap<string, readonly (readonly string[])[]>) {
    const lastImage = Array.from({ length: N }, () => new Map<string, number>());
    let image = 0;
    for (const [id, captions] of corpus) {
      const perCaption = captions.map(countNgrams);
      this.counted.set(id, perCaption);
      for (const orders of perCaption) {
        for (let n = 0; n < N; n++) {
          const frequency = this.documentFrequency[n]!;
          const last = lastImage[n]!;
          for (const gram of orders[n]!.keys()) {
            if (last.get(gram) === image) continue; // counted once per image
            last.set(gram, image);
            frequency.set(gram, (frequency.get(gram) ?? 0) + 1);
          }
        }
      }
      image++;
    }
    this.logDocuments = Math.log(corpus.size);
  }

  /** The image's reference vectors, computed once: a caption memory scores only a few of its images. */
  private referencesOf(id: string): Vector[] | undefined {
    let vectors = this.references.get(id);
    if (!vectors) {
      const counted = this.counted.get(id);
      if (!counted) return undefined;
      vectors = counted.map((orders) => this.vector(orders));
      this.references.set(id, vectors);
    }
    return vectors;
  }

  private vector(counts: Map<string, number>[]): Vector {
    const weights: Map<string, number>[] = [];
    const norms: number[] = [];
    for (let n = 0; n < N; n++) {
      const table = new Map<string, number>();
      let squares = 0;
      for (const [gram, count] of counts[n]!) {
        const df = this.documentFrequency[n]!.get(gram) ?? 0;
        const weight = count * (this.logDocuments - Math.log(Math.max(1, df)));
        table.set(gram, weight);
        squares += weight * weight;
      }
      weights.push(table);
      norms.push(Math.sqrt(squares));
    }
    let length = 0;
    for (const count of counts[1]!.values()) length += count;
    return { weights, norms, length };
  }

  /** CIDEr-D of one tokenized caption against the references of image `id` (which must be in the corpus). */
  score(id: string, words: readonly string[]): number {
    const references = this.referencesOf(id);
    if (!references) throw new Error(`CIDEr reward: image ${id} is not in the reference corpus`);
    const candidate = this.vector(countNgrams(words));
    let total = 0;
    for (const reference of references) {
      const penalty = Math.exp(-((candidate.length - reference.length) ** 2) / (2 * SIGMA ** 2));
      for (let n = 0; n < N; n++) {
        let value = 0;
        const referenceWeights = reference.weights[n]!;
        for (const [gram, weight] of candidate.weights[n]!) {
          const referenceWeight = referenceWeights.get(gram);
          if (referenceWeight !== undefined) value += Math.min(weight, referenceWeight) * referenceWeight;
        }
        const norms = candidate.norms[n]! * reference.norms[n]!;
        if (norms !== 0) value /= norms;
        total += value * penalty;
      }
    }
    return (total / N / references.length) * 10;
  }
}

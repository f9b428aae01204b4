/**
 * CIDEr-D as an SCST reward. metrics/cider.ts scores an evaluation set and takes document frequencies
 * from that set's own references, which is right for reporting but noisy as a reward: a 32-image batch
 * gives idf values that swing from step to step. Self-critical training (Rennie et al. 2017; Luo 2020)
 * uses document frequencies of the whole training corpus instead, and scores thousands of samples per
 * minute, so this interns n-grams as numbers and keeps each reference's tf-idf vector once computed.
 * Caption memories (generation/caption-memory.ts) use it too. The per-sentence arithmetic is the
 * reference's (clipped min(vh, vr) * vr, bigram-count length, sigma 6, x10); with the same corpus it
 * equals metrics/cider.ts, which the test checks.
 */

const N = 4;
const SIGMA = 6;
/** An n-gram's key is its (n-1)-gram prefix's id times this plus its last word's id: exact below 2^53. */
const WORD_SPACE = 2 ** 21;

/**
 * N-gram counts by id, one map per order. Ids of the corpus's n-grams are >= 0; an n-gram the corpus
 * never saw (only candidates have them) gets a negative id of its own, so it still counts in the
 * candidate's norm and matches nothing.
 */
type Counts = Map<number, number>[];

interface Vector {
  /** n-gram id -> tf-idf weight, one map per order. */
  weights: Map<number, number>[];
  norms: number[];
  /** Bigram count: the reference implementation's "length". */
  length: number;
}

export class CiderReward {
  private readonly logDocuments: number;
  private readonly wordIds = new Map<string, number>();
  /** Per order, (prefix id, word id) key -> dense n-gram id. Interned numbers, not joined strings: loading a 30,000-caption memory is several times faster. */
  private readonly gramIds = Array.from({ length: N }, () => new Map<number, number>());
  /** Per order, in how many images' reference sets each n-gram id occurs. */
  private readonly documentFrequency: number[][] = Array.from({ length: N }, () => []);
  /** Per image, its captions' n-gram counts; turned into tf-idf vectors on first use (see score). */
  private readonly counted = new Map<string, Counts[]>();
  private readonly references = new Map<string, Vector[]>();

  /** `corpus`: image id -> tokenized reference captions; it sets the document frequencies. */
  constructor(corpus: ReadonlyMap<string, readonly (readonly string[])[]>) {
    const lastImage: number[][] = Array.from({ length: N }, () => []);
    let image = 0;
    for (const [id, captions] of corpus) {
      const perCaption = captions.map((words) => this.count(words, true));
      this.counted.set(id, perCaption);
      for (const orders of perCaption) {
        for (let n = 0; n < N; n++) {
          const frequency = this.documentFrequency[n]!;
          const last = lastImage[n]!;
          for (const gram of orders[n]!.keys()) {
            if (last[gram] === image) continue; // counted once per image
            last[gram] = image;
            frequency[gram] = (frequency[gram] ?? 0) + 1;
          }
        }
      }
      image++;
    }
    this.logDocuments = Math.log(corpus.size);
  }

  /** N-gram counts of a caption; `learn` gives new n-grams corpus ids (references), else local negative ids. */
  private count(words: readonly string[], learn: boolean): Counts {
    const counts: Counts = Array.from({ length: N }, () => new Map<number, number>());
    const unseen = new Map<string, number>();
    for (let i = 0; i < words.length; i++) {
      let prefix = 0; // id of the (n-1)-gram starting at i, or negative once it is unseen
      for (let n = 1; n <= N && i + n <= words.length; n++) {
        const word = words[i + n - 1]!;
        let wordId = this.wordIds.get(word);
        if (wordId === undefined && learn) {
          wordId = this.wordIds.size;
          this.wordIds.set(word, wordId);
        }
        let gram: number | undefined;
        if (wordId !== undefined && prefix >= 0) {
          const table = this.gramIds[n - 1]!;
          const key = n === 1 ? wordId : prefix * WORD_SPACE + wordId;
          gram = table.get(key);
          if (gram === undefined && learn) {
            gram = table.size;
            table.set(key, gram);
          }
        }
        if (gram === undefined) {
          // unseen by the corpus: a local id per distinct n-gram of this caption
          const text = `${n}|${words.slice(i, i + n).join(" ")}`;
          gram = unseen.get(text) ?? -(unseen.size + 1);
          unseen.set(text, gram);
        }
        const table = counts[n - 1]!;
        table.set(gram, (table.get(gram) ?? 0) + 1);
        prefix = gram;
      }
    }
    return counts;
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

  private vector(counts: Counts): Vector {
    const weights: Map<number, number>[] = [];
    const norms: number[] = [];
    for (let n = 0; n < N; n++) {
      const table = new Map<number, number>();
      const frequency = this.documentFrequency[n]!;
      let squares = 0;
      for (const [gram, count] of counts[n]!) {
        const df = gram >= 0 ? (frequency[gram] ?? 0) : 0;
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
    const candidate = this.vector(this.count(words, false));
    let total = 0;
    for (const reference of references) {
      const penalty = Math.exp(-((candidate.length - reference.length) ** 2) / (2 * SIGMA ** 2));
      for (let n = 0; n < N; n++) {
        let value = 0;
        const referenceWeights = reference.weights[n]!;
        for (const [gram, weight] of candidate.weights[n]!) {
          if (gram < 0) continue; // unseen: in no reference
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

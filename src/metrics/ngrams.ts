import { type Candidates, pairUp, type References, splitWords } from "./types.js";

/**
 * Integer n-gram ids for the fast metrics. Interning every n-gram once and representing a sentence
 * as sorted (id, count) arrays turns the reference's dictionary work into merge-joins over typed
 * arrays, which is what keeps 5,000 images x 5 references under a second.
 */

/**
 * A sentence's n-grams of order 1..n: entries [start, end) of its table's `ids` (ascending) and
 * `counts`. All sentences share two growing typed arrays: one allocation per corpus, not per caption.
 */
export interface NgramBag {
  start: number;
  end: number;
  /** Number of words. */
  length: number;
}

/**
 * (prefix id, token id) -> n-gram id, open addressing over typed arrays: a JS Map keyed by numbers
 * beyond the small-integer range was the bottleneck (about 2 us per n-gram).
 */
class PairTable {
  private prefixes = new Int32Array(1 << 16);
  private tokens = new Int32Array(1 << 16);
  private values = new Int32Array(1 << 16).fill(-1);
  private used = 0;

  private slot(prefix: number, token: number): number {
    const mask = this.values.length - 1;
    // murmur3-style finaliser: low bits of a bare multiply cluster for sequential ids.
    let h = Math.imul(prefix, 0x9e3779b1) ^ token;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    let slot = (h ^ (h >>> 16)) & mask;
    while (this.values[slot] !== -1 && (this.prefixes[slot] !== prefix || this.tokens[slot] !== token)) {
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  /** The id stored for the pair, or `create()` stored as its new id. */
  getOrAdd(prefix: number, token: number, create: () => number): number {
    const slot = this.slot(prefix, token);
    if (this.values[slot] !== -1) return this.values[slot]!;
    const id = create();
    this.prefixes[slot] = prefix;
    this.tokens[slot] = token;
    this.values[slot] = id;
    if (++this.used * 2 > this.values.length) this.grow();
    return id;
  }

  private grow(): void {
    const { prefixes, tokens, values } = this;
    this.prefixes = new Int32Array(values.length * 2);
    this.tokens = new Int32Array(values.length * 2);
    this.values = new Int32Array(values.length * 2).fill(-1);
    for (let old = 0; old < values.length; old++) {
      if (values[old] === -1) continue;
      const slot = this.slot(prefixes[old]!, tokens[old]!);
      this.prefixes[slot] = prefixes[old]!;
      this.tokens[slot] = tokens[old]!;
      this.values[slot] = values[old]!;
    }
  }
}

export class NgramTable {
  private readonly tokens = new Map<string, number>();
  private readonly pairs = new PairTable();
  /** order[id] = n of that n-gram (index 0 unused). */
  readonly order: number[] = [0];
  /** Bag entries of every sentence bagged so far (see NgramBag). */
  ids = new Int32Array(1 << 16);
  counts = new Float64Array(1 << 16);
  private filled = 0;

  constructor(readonly maxOrder: number) {}

  /** Number of ids handed out so far plus one (ids start at 1): the size for per-id arrays. */
  get size(): number {
    return this.order.length;
  }

  private tokenId(token: string): number {
    let id = this.tokens.get(token);
    if (id === undefined) {
      id = this.tokens.size + 1;
      this.tokens.set(token, id);
    }
    return id;
  }

  private ngramId(prefix: number, token: number, order: number): number {
    return this.pairs.getOrAdd(prefix, token, () => {
      this.order.push(order);
      return this.order.length - 1;
    });
  }

  /** Bag of n-grams of the given words (tokens as the reference splits them). */
  bag(words: readonly string[]): NgramBag {
    const length = words.length;
    let total = 0;
    for (let n = 1; n <= this.maxOrder; n++) total += Math.max(0, length - n + 1);
    this.reserve(total);
    const start = this.filled;
    // prefixes[i] = id of the n-gram of the previous order starting at position i (0 for none).
    const prefixes = new Int32Array(length);
    const tokenIds = words.map((word) => this.tokenId(word));
    let end = start;
    for (let n = 1; n <= this.maxOrder; n++) {
      for (let i = 0; i + n <= length; i++) {
        const id = this.ngramId(prefixes[i]!, tokenIds[i + n - 1]!, n);
        prefixes[i] = id;
        this.ids[end++] = id;
      }
    }
    this.ids.subarray(start, end).sort();
    // Run-length encode in place: unique ids with their counts.
    let write = start - 1;
    for (let k = start; k < end; k++) {
      if (write >= start && this.ids[write] === this.ids[k]) this.counts[write]!++;
      else {
        write++;
        this.ids[write] = this.ids[k]!;
        this.counts[write] = 1;
      }
    }
    this.filled = write + 1;
    return { start, end: this.filled, length };
  }

  private reserve(extra: number): void {
    if (this.filled + extra <= this.ids.length) return;
    const size = Math.max(this.ids.length * 2, this.filled + extra);
    const ids = new Int32Array(size);
    ids.set(this.ids.subarray(0, this.filled));
    const counts = new Float64Array(size);
    counts.set(this.counts.subarray(0, this.filled));
    this.ids = ids;
    this.counts = counts;
  }
}

/** Every evaluated image with its candidate and references bagged in one shared table. */
export interface NgramCorpus {
  table: NgramTable;
  images: { id: string; candidate: NgramBag; references: NgramBag[] }[];
}

/** Bags a corpus once so BLEU and CIDEr-D can share the work. */
export function buildNgramCorpus(candidates: Candidates, references: References, maxOrder = 4): NgramCorpus {
  const table = new NgramTable(maxOrder);
  const images = pairUp(candidates, references).map(({ id, candidate, references: refs }) => ({
    id,
    candidate: table.bag(splitWords(candidate)),
    references: refs.map((ref) => table.bag(splitWords(ref))),
  }));
  return { table, images };
}

/**
 * The one seeded PRNG (mulberry32), hand-written because Math.random cannot be seeded: its whole state
 * is one uint32, so checkpoints can store it and a resumed run draws exactly the numbers the
 * uninterrupted run would have drawn; weight initialisation, batch order, augmentation and the search
 * embedding all draw from it (tiny, fast and well mixed; not for cryptography).
 */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  get state(): number {
    return this.s;
  }

  set state(value: number) {
    this.s = value >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

/** Derives an independent stream from a seed and a label (e.g. the epoch), so each epoch's order is fixed. */
export function deriveSeed(seed: number, label: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (label + 0x85ebca6b), 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Runs fn with Math.random replaced by a seeded stream. tfjs draws dropout masks from seedrandom seeded
 * with Math.random() when no seed is given, and decoders call tf.dropout without one; swapping
 * Math.random for the duration of a training step is the only way to make dropout reproducible (and so
 * make --resume land on the same weights) without changing the decoder interface.
 */
export function withSeededRandom<T>(rng: Rng, fn: () => T): T {
  const original = Math.random;
  Math.random = () => rng.next();
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}

/** A mulberry32 stream as a function: uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

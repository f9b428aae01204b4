/**
 * Seeded randomness for augmentation. Hand-written because the views must be reproducible across runs,
 * machines and resumptions, and Math.random cannot be seeded; mulberry32 is tiny, fast and well mixed
 * for this purpose (not for cryptography).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed of one augmented view: a hash of (run seed, image id, view index), so a view depends only on
 * these three and not on the order images are processed in, the worker that took them or a restart.
 */
export function augmentSeed(seed: number, imageId: string, view: number): number {
  // FNV-1a over the UTF-16 code units, then a murmur3 finaliser to spread nearby inputs apart.
  let h = 0x811c9dc5;
  const text = `${seed >>> 0}\u0000${imageId}\u0000${view}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

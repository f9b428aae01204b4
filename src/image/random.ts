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

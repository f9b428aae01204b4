/**
 * Average over non-overlapping k x k blocks of an NHWC grid: [n, h, w, c] -> [n, h/k, w/k, c].
 * Lets an encoder run its graph at a higher input size (where a detector backbone sees objects at
 * the scale it was trained on) and still hand the decoder the same number of grid tokens.
 */
export function blockMeanNhwc(
  x: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  k: number,
): Float32Array {
  if (h % k !== 0 || w % k !== 0) throw new Error(`grid ${h}x${w} does not split into ${k}x${k} blocks`);
  const oh = h / k;
  const ow = w / k;
  const out = new Float32Array(n * oh * ow * c);
  const scale = 1 / (k * k);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) {
        const src = ((b * h + y) * w + xx) * c;
        const dst = ((b * oh + Math.floor(y / k)) * ow + Math.floor(xx / k)) * c;
        for (let ch = 0; ch < c; ch++) out[dst + ch]! += x[src + ch]! * scale;
      }
  return out;
}

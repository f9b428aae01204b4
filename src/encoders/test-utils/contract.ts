import { expect, it } from "vitest";
import { initBackend, tf } from "../../tfjs/backend.js";
import type { Encoder } from "../types.js";

/** RGB pixels 0..255 of a smooth synthetic pattern, varying with `seed` so images differ. */
export function syntheticPixels(size: number, seed: number): Float32Array {
  const px = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      for (let c = 0; c < 3; c++) {
        const v = 127.5 + 127.5 * Math.sin((x * (c + 1) + y * (seed + 2)) / (size / 6) + seed);
        px[(y * size + x) * 3 + c] = Math.round(v);
      }
  return px;
}

/** A batch of synthetic images normalized as `encoder` expects. */
export function syntheticBatch(encoder: Encoder, count: number): Float32Array {
  const s = encoder.inputSize;
  const out = new Float32Array(count * s * s * 3);
  for (let i = 0; i < count; i++) {
    const px = syntheticPixels(s, i);
    for (let j = 0; j < px.length; j++) {
      const c = j % 3;
      out[i * px.length + j] =
        (px[j]! / 255 - encoder.normalization.mean[c]!) / encoder.normalization.std[c]!;
    }
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * The contract every Encoder passes (run inside a describe block): output sizes match the declared
 * shapes, values are finite and differ between images, encoding is deterministic and independent of
 * batching, no tfjs tensor outlives encode(), and bad input lengths are refused.
 */
export function encoderContract(getEncoder: () => Encoder, options: { tolerance?: number } = {}): void {
  const tol = options.tolerance ?? 1e-4;

  it("returns outputs of the declared shapes with finite values", async () => {
    const enc = getEncoder();
    const [h, w, c] = enc.gridShape;
    const out = await enc.encode(syntheticBatch(enc, 2), 2);
    expect(out.count).toBe(2);
    expect(out.grid.length).toBe(2 * h * w * c);
    expect(out.pooled.length).toBe(2 * enc.pooledSize);
    expect(out.grid.every(Number.isFinite)).toBe(true);
    expect(out.pooled.every(Number.isFinite)).toBe(true);
    // two different images must not collapse to the same features
    const per = enc.pooledSize;
    expect(maxAbsDiff(out.pooled.subarray(0, per), out.pooled.subarray(per))).toBeGreaterThan(1e-6);
  });

  it("is deterministic and independent of batching", async () => {
    const enc = getEncoder();
    const batch = syntheticBatch(enc, 2);
    const both = await enc.encode(batch, 2);
    const again = await enc.encode(batch, 2);
    expect(maxAbsDiff(both.grid, again.grid)).toBe(0);
    const per = enc.inputSize * enc.inputSize * 3;
    const second = await enc.encode(batch.slice(per), 1);
    const gridPer = enc.gridShape[0] * enc.gridShape[1] * enc.gridShape[2];
    expect(maxAbsDiff(second.grid, both.grid.subarray(gridPer))).toBeLessThan(tol);
    expect(maxAbsDiff(second.pooled, both.pooled.subarray(enc.pooledSize))).toBeLessThan(tol);
  });

  it("leaks no tensors", async () => {
    await initBackend();
    const enc = getEncoder();
    const batch = syntheticBatch(enc, 1);
    await enc.encode(batch, 1);
    const before = tf.memory().numTensors;
    await enc.encode(batch, 1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses an input of the wrong length", async () => {
    const enc = getEncoder();
    await expect(enc.encode(new Float32Array(10), 1)).rejects.toThrow(/expected/);
  });
}

import { describe, expect, it } from "vitest";
import { blockMeanNhwc } from "./grid-pool.js";

describe("blockMeanNhwc", () => {
  it("averages each k x k block per channel and image", () => {
    // n=2, 4x4 grid, 2 channels; value encodes (image, y, x, channel)
    const n = 2;
    const h = 4;
    const w = 4;
    const c = 2;
    const x = new Float32Array(n * h * w * c);
    for (let b = 0; b < n; b++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++)
          for (let ch = 0; ch < c; ch++)
            x[((b * h + y) * w + xx) * c + ch] = 100 * b + 10 * y + xx + 1000 * ch;
    const out = blockMeanNhwc(x, n, h, w, c, 2);
    expect(out.length).toBe(n * 2 * 2 * c);
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < 2; oy++)
        for (let ox = 0; ox < 2; ox++)
          for (let ch = 0; ch < c; ch++) {
            // mean of y in {2oy, 2oy+1} and x in {2ox, 2ox+1}
            const expected = 100 * b + 10 * (2 * oy + 0.5) + (2 * ox + 0.5) + 1000 * ch;
            expect(out[((b * 2 + oy) * 2 + ox) * c + ch]).toBeCloseTo(expected, 4);
          }
  });

  it("is the identity for k = 1 and refuses grids that do not split", () => {
    const x = Float32Array.from({ length: 3 * 3 * 2 }, (_, i) => i * 0.5);
    expect(Array.from(blockMeanNhwc(x, 1, 3, 3, 2, 1))).toEqual(Array.from(x));
    expect(() => blockMeanNhwc(x, 1, 3, 3, 2, 2)).toThrow(/does not split/);
  });
});

import { describe, expect, it } from "vitest";
import { decodeFloat16, encodeFloat16 } from "../core/float16.js";
import { dequantizeRows, quantizeRows } from "./quantize.js";
import { ftsExpression } from "./rankers/fts.js";
import { reciprocalRankFusion } from "./rankers/fusion.js";
import { topK } from "./rankers/top-k.js";
import { evaluateSimilarity, rankOfCorrect, scoresFromRanks } from "./retrieval-metrics.js";

describe("retrieval metrics", () => {
  it("counts ties against the query and takes the best of several correct items", () => {
    expect(rankOfCorrect([0.1, 0.9, 0.5], [2])).toBe(2);
    expect(rankOfCorrect([0.5, 0.5, 0.5], [0])).toBe(3);
    expect(rankOfCorrect([0.1, 0.9, 0.5, 0.95], [2, 1])).toBe(2);
  });

  it("computes recall@K and the median rank", () => {
    expect(scoresFromRanks([1, 3, 6, 11])).toEqual({
      "R@1": 0.25,
      "R@5": 0.5,
      "R@10": 0.75,
      medianRank: 4.5,
      queries: 4,
    });
  });

  it("evaluates both directions from one caption x image matrix", () => {
    // 2 images, 4 captions (2 each); caption 3 prefers the wrong image
    const sim = Float32Array.from([0.9, 0.1, 0.8, 0.2, 0.1, 0.7, 0.6, 0.5]);
    const { textToImage, imageToText } = evaluateSimilarity(sim, [0, 0, 1, 1], 2);
    expect(textToImage["R@1"]).toBe(0.75);
    expect(imageToText["R@1"]).toBe(1); // image 1's best caption (0.7) beats image 0's captions (0.2, 0.1)
  });
});

describe("ranking helpers", () => {
  it("topK returns the indices of the largest scores, best first", () => {
    expect(topK([0.3, 0.9, -1, 0.5, 0.9, Number.NaN], 3)).toEqual([1, 4, 3]);
    expect(topK([1, 2], 5)).toEqual([1, 0]);
  });

  it("reciprocal-rank fusion favours items high in several lists", () => {
    const item = (id: number, good = false) => ({ id, path: `${id}`, caption: "", score: 0, good });
    const fused = reciprocalRankFusion(
      [{ items: [item(1), item(2), item(3)] }, { items: [item(2, true), item(3), item(1)] }],
      2,
    );
    expect(fused.map((r) => r.id)).toEqual([2, 1]);
    // good in one list is good fused
    expect(fused.map((r) => r.good)).toEqual([true, false]);
  });

  it("quotes every content word for FTS5 and drops function words", () => {
    expect(ftsExpression('Dogs "near" the beach!')).toBe('"dogs" OR "beach"');
    expect(ftsExpression("a dog running on the grass")).toBe('"dog" OR "running" OR "grass"');
    // a query of function words only keeps them, so it still finds something
    expect(ftsExpression("on the")).toBe('"on" OR "the"');
    expect(ftsExpression("?!")).toBeUndefined();
  });
});

describe("compact vectors", () => {
  it("float16 round-trips within half precision", () => {
    const values = Float32Array.from([0, 1, -2.5, 0.1234, 65504, 1e-5]);
    const back = decodeFloat16(encodeFloat16(values));
    values.forEach((v, i) => {
      expect(Math.abs(back[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-3 + 1e-7);
    });
  });

  it("8-bit grid rows round-trip within half a step", () => {
    const grid = Float32Array.from({ length: 3 * 5 }, (_, i) => Math.sin(i) * (1 + (i % 3)));
    const { values, rows } = dequantizeRows(quantizeRows(grid, 3));
    expect(rows).toBe(3);
    for (let r = 0; r < 3; r++) {
      const row = grid.subarray(r * 5, r * 5 + 5);
      const step = (Math.max(...row) - Math.min(...row)) / 255;
      row.forEach((v, c) => {
        expect(Math.abs(values[r * 5 + c]! - v)).toBeLessThanOrEqual(step / 2 + 1e-6);
      });
    }
  });
});

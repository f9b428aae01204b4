import { describe, expect, it } from "vitest";
import { ciderD } from "./cider.js";

describe("ciderD (pycocoevalcap cider_scorer.py)", () => {
  it("scores 0 on a one-image corpus (idf = log 1 = 0)", () => {
    const result = ciderD({ x: "a dog runs" }, { x: ["a dog runs"] });
    expect(result.corpus).toBe(0);
  });

  it("matches a hand-computed two-image case", () => {
    // Every n-gram has df 1, so weights are tf * ln 2; unigram and bigram cosines are 1, there are
    // no 3- or 4-grams, no length difference: mean (1 + 1 + 0 + 0) / 4 = 0.5, x10 = 5.
    const result = ciderD({ x: "a b", y: "c d" }, { x: ["a b"], y: ["c d"] });
    expect(result.perImage.get("x")).toBeCloseTo(5, 12);
    expect(result.corpus).toBeCloseTo(5, 12);
  });

  it("gives no credit to n-grams found in every image's references", () => {
    const result = ciderD({ x: "a", y: "a" }, { x: ["a b"], y: ["a c"] });
    expect(result.corpus).toBe(0);
  });

  it("penalises length differences through the bigram count (sigma 6)", () => {
    const refs = { x: ["a b c d"], y: ["e f g h"] };
    const exact = ciderD({ x: "a b c d", y: "e f g h" }, refs).perImage.get("x")!;
    const longer = ciderD({ x: "a b c d q r s t u v", y: "e f g h" }, refs).perImage.get("x")!;
    expect(exact).toBeCloseTo(10, 10);
    expect(longer).toBeLessThan(exact * Math.exp(-(6 ** 2) / (2 * 36)) + 1e-9);
  });

  it("divides by the number of references", () => {
    const one = ciderD({ x: "a b", y: "c d" }, { x: ["a b"], y: ["c d"] }).perImage.get("x")!;
    const two = ciderD({ x: "a b", y: "c d" }, { x: ["a b", "z z"], y: ["c d"] }).perImage.get("x")!;
    expect(two).toBeLessThan(one);
  });
});

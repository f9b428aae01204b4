import { describe, expect, it } from "vitest";
import { lcsLength, rougeL, rougeLSentence } from "./rouge.js";

describe("rougeL (pycocoevalcap rouge.py, beta 1.2)", () => {
  it("computes the longest common subsequence", () => {
    expect(lcsLength("a x c d e".split(" "), "a b c d".split(" "))).toBe(3);
    expect(lcsLength([], ["a"])).toBe(0);
  });

  it("matches a hand-computed F-measure", () => {
    // LCS 3: P = 3/4, R = 3/5, F = (1 + 1.44) P R / (R + 1.44 P).
    const expected = (2.44 * 0.75 * 0.6) / (0.6 + 1.44 * 0.75);
    expect(rougeLSentence("a b c d", ["a x c d e"])).toBeCloseTo(expected, 12);
  });

  it("takes maximum precision and maximum recall from different references", () => {
    // "a b": P 0.5, R 1; the long one: P 1, R 0.5. Separate maxima give P = R = 1.
    expect(rougeLSentence("a b c d", ["a b", "a b c d e f g h"])).toBeCloseTo(1, 12);
  });

  it("scores 0 with no overlap and averages images for the corpus", () => {
    const result = rougeL({ x: "a b", y: "c d" }, { x: ["a b"], y: ["e f"] });
    expect(result.perImage.get("y")).toBe(0);
    expect(result.corpus).toBeCloseTo(0.5, 12);
  });
});

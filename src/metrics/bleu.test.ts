import { describe, expect, it } from "vitest";
import { bleu } from "./bleu.js";

describe("bleu (pycocoevalcap bleu_scorer.py, option closest)", () => {
  it("gives 1 for a candidate identical to its reference", () => {
    const result = bleu({ x: "a man rides a red bike" }, { x: ["a man rides a red bike"] });
    for (const score of result.corpus) expect(score).toBeCloseTo(1, 8);
    for (const score of result.perImage.get("x")!) expect(score).toBeCloseTo(1, 8);
  });

  it("applies the brevity penalty and the tiny/small constants (hand-computed)", () => {
    // 3 of 3 unigrams, 2/2 bigrams, 1/1 trigram, no 4-gram: (1e-15 / 1e-9) ** (1/4); BP = exp(1 - 6/3).
    const result = bleu({ x: "the cat sat" }, { x: ["the cat sat on the mat"] });
    const penalty = Math.exp(-1);
    expect(result.corpus[0]).toBeCloseTo(penalty, 9);
    expect(result.corpus[2]).toBeCloseTo(penalty, 9);
    expect(result.corpus[3]).toBeCloseTo(1e-6 ** 0.25 * penalty, 9);
  });

  it("takes the closest reference length, the shorter one on a tie", () => {
    // Candidate length 4, references 3 and 5: reflen 3, so no brevity penalty.
    const result = bleu({ x: "a b c d" }, { x: ["a b c", "a b c d e"] });
    expect(result.corpus[0]).toBeCloseTo(1, 8);
  });

  it("clips counts by the maximum count in any single reference", () => {
    const result = bleu({ x: "the the the the" }, { x: ["the cat", "the dog"] });
    expect(result.corpus[0]).toBeCloseTo(1 / 4, 8);
  });

  it("sums counts over the corpus before the geometric mean", () => {
    const result = bleu({ x: "a b", y: "c d" }, { x: ["a b"], y: ["c e"] });
    // Unigrams 3/4, bigrams 1/2 over the corpus: BLEU-2 = sqrt(3/4 * 1/2).
    expect(result.corpus[1]).toBeCloseTo(Math.sqrt(3 / 8), 8);
    expect(result.perImage.get("x")![1]).toBeCloseTo(1, 8);
  });

  it("rejects an image without references", () => {
    expect(() => bleu({ x: "a" }, { y: ["a"] })).toThrow(/no references/);
  });
});

import { describe, expect, it } from "vitest";
import { align, candidateMatches } from "./align.js";
import { loadWordNet, meteor, meteorScore, segmentStats, WordNet } from "./index.js";
import { parseIndex } from "./wordnet.js";

/** A two-synset WordNet built in memory, so these tests do not depend on the dictionary files. */
function tinyWordNet(): WordNet {
  const noun = new Map([
    ["car", ["n1"]],
    ["automobile", ["n1"]],
    ["dog", ["n2"]],
  ]);
  return new WordNet(
    new Map([
      ["noun", noun],
      ["verb", new Map()],
      ["adj", new Map()],
      ["adv", new Map()],
    ]),
  );
}

const words = (text: string) => text.split(" ");

describe("METEOR 1.5 (exact + stem + synonym)", () => {
  const wordnet = tinyWordNet();

  it("gives 1 to an identical sentence (no fragmentation penalty)", () => {
    expect(meteorScore(segmentStats(words("a red car"), words("a red car"), wordnet))).toBeCloseTo(1, 12);
  });

  it("matches a hand-computed score with function-word weighting", () => {
    // hyp: content cat, sat + function the -> P = 1; ref: 3 content + 3 function, weighted length
    // 0.75 * 3 + 0.25 * 3 = 3, matched 0.75 * 2 + 0.25 = 1.75 -> R = 1.75 / 3; one chunk over 3 matches.
    const stats = segmentStats(words("the cat sat"), words("the cat sat on the mat"), wordnet);
    const recall = 1.75 / 3;
    const fMean = recall / (0.85 + 0.15 * recall);
    expect(meteorScore(stats)).toBeCloseTo(fMean * (1 - 0.6 * (1 / 3) ** 0.2), 12);
  });

  it("weights stem matches 0.6 and synonym matches 0.8", () => {
    const stem = segmentStats(words("dogs"), words("dog"), wordnet);
    expect(stem.testContent).toEqual([0, 1, 0]);
    const synonym = segmentStats(words("automobile"), words("car"), wordnet);
    expect(synonym.testContent).toEqual([0, 0, 1]);
    // Single word, one chunk, all matched: the score is the module weight.
    expect(meteorScore(stem)).toBeCloseTo(0.6, 12);
    expect(meteorScore(synonym)).toBeCloseTo(0.8, 12);
  });

  it("prefers the alignment with fewer chunks when coverage ties", () => {
    const hyp = words("a b a");
    const ref = words("a b");
    const result = align(
      candidateMatches(hyp, ref, (x, y) => x === y, []),
      hyp.length,
    );
    expect(result.matches.map((m) => [m.hyp, m.ref])).toEqual([
      [0, 0],
      [1, 1],
    ]);
    expect(result.chunks).toBe(1);
  });

  it("matches stems and synonyms only between different words", () => {
    const byRef = candidateMatches(words("dog dogs"), words("dogs"), (a, b) => a === b, [
      (a, b) => a.replace(/s$/, "") === b.replace(/s$/, ""),
    ]);
    expect(byRef[0]).toEqual([
      { hyp: 1, ref: 0, stage: 0 },
      { hyp: 0, ref: 0, stage: 1 },
    ]);
    // Alignment weights favour the exact match over the stem match.
    expect(align(byRef, 2).matches).toEqual([{ hyp: 1, ref: 0, stage: 0 }]);
  });

  it("scores the best reference per image and aggregates statistics for the corpus", async () => {
    const result = await meteor(
      { x: "a red car", y: "the dog" },
      { x: ["blue sky", "a red car"], y: ["cat"] },
      { wordnet },
    );
    expect(result.perImage.get("x")).toBeCloseTo(1, 12);
    expect(result.perImage.get("y")).toBe(0);
    expect(result.corpus).toBeGreaterThan(0);
    expect(result.corpus).toBeLessThan(1);
  });

  it("parses WordNet index lines into synset ids", () => {
    const index = parseIndex("  1 license header\ncar n 2 1 @ 2 0 02958343 02959942  \n", "n");
    expect(index.get("car")).toEqual(["n02958343", "n02959942"]);
  });

  it("finds synonyms and base forms in the installed WordNet", async () => {
    const real = await loadWordNet();
    expect(real.areSynonyms("car", "automobile")).toBe(true);
    expect(real.areSynonyms("cars", "automobiles")).toBe(true);
    expect(real.areSynonyms("car", "banana")).toBe(false);
  });
});

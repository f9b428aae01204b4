import { describe, expect, it } from "vitest";
import { ciderD } from "./cider.js";
import { CiderReward } from "./cider-reward.js";

const references = new Map<string, string[]>([
  ["a", ["a dog runs on the beach", "a brown dog running along the sand", "dog on a beach"]],
  ["b", ["two children play in the snow", "kids playing in snow", "two kids throw snow at each other"]],
  ["c", ["a man rides a bike down a hill", "a cyclist on a dirt road", "a man on a mountain bike"]],
  ["d", ["a dog jumps over a log", "a black dog leaps", "the dog is jumping in the grass"]],
  ["e", ["a dog runs on the beach", "two dogs run along the sand"]],
]);
const candidates = new Map([
  ["a", "a dog running on the beach"],
  ["b", "two kids play in the snow snow"],
  ["c", "a dog on a bike"],
  ["d", "a black dog is jumping over a log in the grass"],
  // words and n-grams the references never use, repeated: they weigh in the candidate's norm only
  ["e", "a zebra zebra runs on the zebra zebra beach"],
]);
const words = (text: string) => text.split(" ");

describe("CIDEr-D reward", () => {
  it("equals the reference-exact metric when its corpus is the evaluated set", () => {
    const reward = new CiderReward(new Map([...references].map(([id, refs]) => [id, refs.map(words)])));
    const expected = ciderD(candidates, references).perImage;
    for (const [id, caption] of candidates) {
      expect(reward.score(id, words(caption))).toBeCloseTo(expected.get(id)!, 12);
    }
    expect(reward.score("a", [])).toBe(0);
  });

  it("takes document frequencies from the whole corpus, not from the scored images", () => {
    const corpus = new Map([...references].map(([id, refs]) => [id, refs.map(words)]));
    const reward = new CiderReward(corpus);
    const alone = ciderD(new Map([["a", candidates.get("a")!]]), new Map([["a", references.get("a")!]]));
    // One image scored alone has idf 0 for everything (the metric's quirk); the reward does not.
    expect(alone.corpus).toBe(0);
    expect(reward.score("a", words(candidates.get("a")!))).toBeGreaterThan(1);
    expect(() => reward.score("zzz", ["a"])).toThrow(/not in the reference corpus/);
  });
});

import { describe, expect, it } from "vitest";
import type { CaptionDataset } from "./types.js";
import {
  buildVocabulary,
  END_ID,
  PAD_ID,
  SPECIAL_TOKENS,
  START_ID,
  UNK_ID,
  Vocabulary,
} from "./vocabulary.js";

// Lowercase words without punctuation tokenize the same under any PTB-style tokenizer.
const captions = [
  ["a", "dog", "runs", "on", "the", "grass"],
  ["a", "dog", "jumps"],
  ["the", "cat", "sleeps", "on", "a", "mat"],
];

describe("Vocabulary", () => {
  it("puts the special tokens first, then words by frequency with alphabetical ties", () => {
    const vocabulary = Vocabulary.build(captions, { minCount: 1 });
    expect(vocabulary.tokens.slice(0, 4)).toEqual([...SPECIAL_TOKENS]);
    expect([PAD_ID, START_ID, END_ID, UNK_ID].map((id) => vocabulary.tokens[id])).toEqual([
      ...SPECIAL_TOKENS,
    ]);
    expect(vocabulary.tokens.slice(4)).toEqual([
      "a",
      "dog",
      "on",
      "the",
      "cat",
      "grass",
      "jumps",
      "mat",
      "runs",
      "sleeps",
    ]);
  });

  it("drops words below min-count (they encode as <unk>)", () => {
    const vocabulary = Vocabulary.build(captions, { minCount: 2 });
    expect(vocabulary.tokens.slice(4)).toEqual(["a", "dog", "on", "the"]);
    expect(vocabulary.size).toBe(8);
    expect(vocabulary.idOf("cat")).toBe(UNK_ID);
  });

  it("round-trips in-vocabulary captions through encode and decode", () => {
    const vocabulary = Vocabulary.build(captions, { minCount: 1 });
    for (const words of captions) {
      const ids = vocabulary.encode(words);
      expect(ids[0]).toBe(START_ID);
      expect(ids.at(-1)).toBe(END_ID);
      expect(ids).toHaveLength(words.length + 2);
      expect(vocabulary.decode(ids)).toEqual(words);
    }
  });

  it("maps unknown words to <unk>, truncates to maxLength, and stops decoding at <end>", () => {
    const vocabulary = Vocabulary.build(captions, { minCount: 1, maxLength: 4 });
    expect(vocabulary.decode(vocabulary.encode(["a", "zebra", "runs"]))).toEqual(["a", "<unk>", "runs"]);
    expect(vocabulary.decode(vocabulary.encode(captions[0]!))).toEqual(["a", "dog", "runs", "on"]);
    // Padding after <end> and anything a decoder emits after it are ignored.
    const padded = [...vocabulary.encode(["a", "dog"]), PAD_ID, PAD_ID, vocabulary.idOf("cat")];
    expect(vocabulary.decode(padded)).toEqual(["a", "dog"]);
    expect(vocabulary.decode([START_ID, 9999])).toEqual(["<unk>"]);
  });

  it("survives a JSON round trip, keeping ids and settings", () => {
    const vocabulary = Vocabulary.build(captions, { minCount: 2, maxLength: 7 });
    const restored = Vocabulary.fromJSON(JSON.parse(JSON.stringify(vocabulary)));
    expect(restored.toJSON()).toEqual({ tokens: [...vocabulary.tokens], minCount: 2, maxLength: 7 });
    for (const words of captions) expect(restored.encode(words)).toEqual(vocabulary.encode(words));
  });

  it("rejects malformed vocabulary JSON", () => {
    const good = Vocabulary.build(captions, { minCount: 1 }).toJSON();
    expect(() => Vocabulary.fromJSON({ ...good, extra: 1 })).toThrow(/vocabulary: .*extra/i);
    expect(() => Vocabulary.fromJSON({ ...good, minCount: "5" })).toThrow(/vocabulary: minCount/);
    expect(() => Vocabulary.fromJSON({ ...good, tokens: ["a", ...good.tokens.slice(1)] })).toThrow(
      /token 0 must be <pad>/,
    );
    expect(() => Vocabulary.fromJSON({ ...good, tokens: [...good.tokens, "a"] })).toThrow(/duplicate tokens/);
  });
});

describe("buildVocabulary", () => {
  it("tokenizes every caption of the dataset (lowercased) and applies min-count", () => {
    const dataset: CaptionDataset = {
      source: "mem",
      format: "jsonl",
      images: [
        { id: "1", path: "/1.jpg", captions: ["A Dog runs", "a dog sits"] },
        { id: "2", path: "/2.jpg", captions: ["A cat sits"] },
      ],
    };
    const vocabulary = buildVocabulary(dataset, { minCount: 2, maxLength: 12 });
    expect(vocabulary.tokens.slice(4)).toEqual(["a", "dog", "sits"]);
    expect(vocabulary.maxLength).toBe(12);
    expect(vocabulary.decode(vocabulary.encode(["a", "dog", "sits"]))).toEqual(["a", "dog", "sits"]);
  });
});

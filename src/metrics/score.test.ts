import { describe, expect, it } from "vitest";
import { checkCoverage, parseCandidates, parseReferences } from "./inputs.js";
import { parseMetricList, scoreCaptions, tokenizeCaptions } from "./score.js";

describe("scoreCaptions", () => {
  it("tokenizes raw text like the reference before scoring", async () => {
    const raw = await scoreCaptions(
      { x: "A Dog's toy." },
      { x: ["a dog 's toy"], y: ["other"] },
      { metrics: ["bleu"] },
    );
    expect(raw.corpus["BLEU-4"]).toBeCloseTo(1, 8);
    const tokenized = await scoreCaptions(
      { x: "A Dog's toy." },
      { x: ["a dog 's toy"] },
      { metrics: ["bleu"], tokenized: true },
    );
    expect(tokenized.corpus["BLEU-1"]).toBeLessThan(0.5);
  });

  it("scores an empty caption 0 on every metric without NaN", async () => {
    const report = await scoreCaptions({ x: "...", y: "a cat" }, { x: ["a dog runs"], y: ["a cat"] });
    for (const value of Object.values(report.perImage.get("x")!)) expect(value).toBe(0);
    for (const value of Object.values(report.corpus)) expect(Number.isFinite(value)).toBe(true);
  });

  it("returns keys in the documented order whatever metrics are chosen", async () => {
    const report = await scoreCaptions({ x: "a b" }, { x: ["a b"] }, { metrics: ["cider", "rouge", "bleu"] });
    expect(Object.keys(report.corpus)).toEqual([
      "BLEU-1",
      "BLEU-2",
      "BLEU-3",
      "BLEU-4",
      "ROUGE-L",
      "CIDEr-D",
    ]);
    expect(Object.keys(report.perImage.get("x")!)).toEqual(Object.keys(report.corpus));
  });

  it("tokenizeCaptions keeps ids and reference order", () => {
    const { candidates, references } = tokenizeCaptions({ b: "Hi!" }, { b: ["One.", "Two (2)."] });
    expect(candidates.get("b")).toBe("hi");
    expect(references.get("b")).toEqual(["one", "two 2"]);
  });
});

describe("metric lists and input files", () => {
  it("parses families and metric names", () => {
    expect(parseMetricList("BLEU-4, CIDEr-D,rouge-l")).toEqual(["bleu", "cider", "rouge"]);
    expect(() => parseMetricList("spice")).toThrow(/unknown metric "spice"/);
    expect(() => parseMetricList(" , ")).toThrow(/empty/);
  });

  it("accepts both candidate shapes and rejects duplicates", () => {
    expect(parseCandidates({ a: "x" }, "c.json")).toEqual(new Map([["a", "x"]]));
    expect(parseCandidates([{ image_id: 7, caption: "x", score: 1 }], "c.json")).toEqual(
      new Map([["7", "x"]]),
    );
    expect(() =>
      parseCandidates(
        [
          { image_id: 7, caption: "x" },
          { image_id: 7, caption: "y" },
        ],
        "c.json",
      ),
    ).toThrow(/c\.json: image_id 7 has more than one caption/);
    expect(() => parseCandidates([], "c.json")).toThrow(/c\.json: no candidates/);
  });

  it("accepts both reference shapes", () => {
    const coco = {
      info: {},
      images: [{ id: 1, file_name: "a.jpg" }],
      annotations: [
        { image_id: 1, id: 1, caption: "one" },
        { image_id: 1, id: 2, caption: "two" },
      ],
    };
    expect(parseReferences(coco, "r.json")).toEqual(new Map([["1", ["one", "two"]]]));
    expect(parseReferences({ a: ["x"] }, "r.json")).toEqual(new Map([["a", ["x"]]]));
    expect(() => parseReferences({ a: [] }, "r.json")).toThrow(/empty reference list/);
    expect(() => parseReferences({ a: "x" }, "r.json")).toThrow(/r\.json: expected references/);
  });

  it("lists candidate ids missing from the references", () => {
    const candidates = new Map(Array.from({ length: 7 }, (_, i) => [`m${i}`, "x"] as [string, string]));
    expect(() => checkCoverage(candidates, new Map())).toThrow(/7 candidate image id\(s\).*"m0".*and 2 more/);
  });
});

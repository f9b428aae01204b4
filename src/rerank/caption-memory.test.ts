import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SCENE_CAPTIONS, words } from "../../test/fixtures/captions.js";
import { mulberry32 } from "../core/rng.js";
import { normalizeParts } from "../features/normalize-parts.js";
import { ciderD } from "../metrics/cider.js";
import { CaptionMemory, type CaptionMemoryData } from "./caption-memory.js";
import { loadCaptionMemory, MEMORY_VECTORS_FILE, saveCaptionMemory } from "./memory-io.js";

const CAPTIONS = SCENE_CAPTIONS;

/** Entries whose raw vectors are one-hot-ish along their index, so the nearest entry is known. */
function memoryData(weight: number, alpha = 0, k = 1): CaptionMemoryData {
  const width = 4;
  const raw = CAPTIONS.map((_, e) => Float32Array.from({ length: width }, (_, j) => (j === e ? 1 : 0.1)));
  const mean = new Float32Array(width).fill(0.1);
  const vectors = new Float32Array(raw.length * width);
  raw.forEach((row, e) => {
    vectors.set(normalizeParts(row, mean, [width]), e * width);
  });
  return {
    parts: [width],
    mean,
    vectors,
    captions: CAPTIONS.map((list) => list.map(words)),
    settings: { k, weight, alpha },
  };
}
const query = (entry: number) => Float32Array.from({ length: 4 }, (_, j) => (j === entry ? 2 : 0.1));

describe("CaptionMemory", () => {
  it("finds the entries with the largest cosine, each part centred and normalised on its own", () => {
    const random = mulberry32(3);
    const parts = [3, 5];
    const entries = 40;
    const rows = Array.from({ length: entries }, () =>
      Float32Array.from({ length: 8 }, () => random() - 0.5),
    );
    const mean = Float32Array.from({ length: 8 }, () => random() * 0.2);
    const vectors = new Float32Array(entries * 8);
    rows.forEach((row, e) => {
      vectors.set(normalizeParts(row, mean, parts), e * 8);
    });
    const memory = new CaptionMemory({
      parts,
      mean,
      vectors,
      captions: rows.map(() => [["a"]]),
      settings: { k: 5, weight: 1, alpha: 0 },
    });
    const q = Float32Array.from({ length: 8 }, () => random() - 0.5);
    // brute force: cosine per part, summed
    const cosine = (a: Float32Array, b: Float32Array, from: number, to: number) => {
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let j = from; j < to; j++) {
        const x = a[j]! - mean[j]!;
        const y = b[j]! - mean[j]!;
        dot += x * y;
        na += x * x;
        nb += y * y;
      }
      return dot / Math.sqrt(na * nb);
    };
    const expected = rows
      .map((row, e) => [cosine(row, q, 0, 3) + cosine(row, q, 3, 8), e] as const)
      .sort((a, b) => b[0] - a[0])
      .slice(0, 5)
      .map(([, e]) => e);
    expect(memory.neighbours(q)).toEqual(expected);
    const unit = normalizeParts(q, mean, parts);
    expect(Math.hypot(...unit.subarray(0, 3))).toBeCloseTo(1, 6);
    expect(Math.hypot(...unit.subarray(3))).toBeCloseTo(1, 6);
    expect(() => memory.neighbours(new Float32Array(7))).toThrow(/7 values, expected 8/);
  });

  it("scores consensus as the mean reference-exact CIDEr-D against the neighbours' captions", () => {
    const memory = new CaptionMemory(memoryData(1, 0, 2));
    const hypothesis = "a dog runs over a log";
    // The metric, with every entry's captions as references and the hypothesis as every candidate,
    // takes document frequencies from the same corpus as the memory.
    const references = new Map(CAPTIONS.map((list, e) => [String(e), list]));
    const perImage = ciderD(new Map(CAPTIONS.map((_, e) => [String(e), hypothesis])), references).perImage;
    const expected = (perImage.get("0")! + perImage.get("3")!) / 2;
    expect(expected).toBeGreaterThan(0);
    expect(memory.consensus(words(hypothesis), [0, 3])).toBeCloseTo(expected, 10);
  });

  it("keeps the beam's order without weight and moves the caption similar photos agree on up with it", () => {
    const proposals = [
      { words: words("a man rides a bike"), logProb: -5 },
      { words: words("a dog runs on the sand"), logProb: -6 },
      { words: words("kids play in the snow"), logProb: -7 },
    ];
    expect(new CaptionMemory(memoryData(0)).rank(proposals, query(0))).toEqual([0, 1, 2]);
    const memory = new CaptionMemory(memoryData(8));
    expect(memory.rank(proposals, query(0))[0]).toBe(1); // nearest entry: the beach dog
    expect(memory.rank(proposals, query(1))[0]).toBe(2); // nearest entry: the snow
    expect(memory.rank(proposals.slice(0, 1), query(1))).toEqual([0]);
    // length normalisation alone: -5/5^1 = -1 loses to -6/6 = -1? equal: ties keep the beam's order
    expect(new CaptionMemory(memoryData(0, 1)).rank(proposals, query(0))).toEqual([0, 1, 2]);
    const longer = [proposals[0]!, { words: words("a man rides a bike down a hill"), logProb: -6 }];
    expect(new CaptionMemory(memoryData(0, 1)).rank(longer, query(0))).toEqual([1, 0]);
  });

  it("saves and loads: same vectors up to float16, same ranking, clear errors on bad folders", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "captionkit-memory-"));
    try {
      const data = memoryData(8);
      await saveCaptionMemory(dir, data, {
        model: "m",
        encoder: "e",
        ids: ["a.jpg", "b.jpg", "c.jpg", "d.jpg"],
        source: { dataset: "x.tsv", split: "train" },
      });
      const loaded = await loadCaptionMemory(dir);
      expect(loaded.model).toBe("m");
      expect(loaded.ids).toEqual(["a.jpg", "b.jpg", "c.jpg", "d.jpg"]);
      expect(loaded.memory.data.captions).toEqual(data.captions);
      loaded.memory.data.vectors.forEach((v, i) => {
        expect(v).toBeCloseTo(data.vectors[i]!, 3);
      });
      for (const entry of [0, 1, 2, 3]) {
        expect(loaded.memory.neighbours(query(entry), 1)).toEqual([entry]);
      }
      await writeFile(path.join(dir, MEMORY_VECTORS_FILE), new Uint8Array(10));
      await expect(loadCaptionMemory(dir)).rejects.toThrow(/does not match memory.json/);
      await expect(loadCaptionMemory(path.join(dir, "nope"))).rejects.toThrow(/captionkit memory/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

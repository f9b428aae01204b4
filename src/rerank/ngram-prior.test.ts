import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SCENE_CAPTIONS, words } from "../../test/fixtures/captions.js";
import { mulberry32 } from "../core/rng.js";
import { normalizeParts } from "../features/normalize-parts.js";
import { ciderD } from "../metrics/cider.js";
import { NgramPrior, type NgramPriorData, type PriorPrediction } from "./ngram-prior.js";
import { fitNgramPrior, type PriorTrainingSet } from "./ngram-prior-fit.js";
import { loadNgramPrior, PRIOR_WEIGHTS_FILE, saveNgramPrior } from "./ngram-prior-io.js";

const CAPTIONS = SCENE_CAPTIONS;

/** Every n-gram of the captions, with the number of photos whose captions hold it. */
function frequencies(captions: readonly (readonly string[])[]): Map<string, number> {
  const frequency = new Map<string, number>();
  for (const list of captions) {
    const seen = new Set<string>();
    for (const caption of list) {
      const w = words(caption);
      for (let n = 1; n <= 4; n++)
        for (let i = 0; i + n <= w.length; i++) seen.add(w.slice(i, i + n).join(" "));
    }
    for (const gram of seen) frequency.set(gram, (frequency.get(gram) ?? 0) + 1);
  }
  return frequency;
}

/** A prior over every n-gram of `captions` with zero weights: for agreement and profile checks. */
function blankPrior(captions: readonly (readonly string[])[], unseenFrequency = 1): NgramPrior {
  const frequency = frequencies(captions);
  const ngrams = [...frequency.keys()];
  return new NgramPrior({
    parts: [2],
    mean: new Float32Array(2),
    ngrams,
    documentFrequency: ngrams.map((g) => frequency.get(g)!),
    photos: captions.length,
    unseenFrequency,
    weights: new Float32Array(3 * (ngrams.length + 1)),
    settings: { weight: 1, alpha: 0 },
  });
}

/** The prediction that is exactly one caption's profile and length. */
function predictionOf(prior: NgramPrior, caption: string): PriorPrediction {
  const { columns, values, length } = prior.profile(words(caption));
  const profile = new Float32Array(prior.data.ngrams.length);
  columns.forEach((c, i) => {
    profile[c] = values[i]!;
  });
  return { profile, length };
}

function trainingSet(): PriorTrainingSet {
  const random = mulberry32(11);
  const parts = [3, 4];
  const mean = Float32Array.from({ length: 7 }, () => random() * 0.1);
  const vectors = new Float32Array(CAPTIONS.length * 7);
  CAPTIONS.forEach((_, p) => {
    const raw = Float32Array.from({ length: 7 }, () => random() - 0.5);
    vectors.set(normalizeParts(raw, mean, parts), p * 7);
  });
  return { parts, mean, vectors, captions: CAPTIONS.map((list) => list.map(words)) };
}

describe("NgramPrior", () => {
  it("scores agreement with one caption's profile as that caption's reference-exact CIDEr-D", () => {
    // One reference per photo, and candidates that repeat no n-gram more often than the reference,
    // so CIDEr-D's clipping never binds; document frequencies come from the same four photos.
    const single = CAPTIONS.map((list) => [list[0]!]);
    const prior = blankPrior(single);
    const references = new Map(single.map((list, p) => [String(p), list]));
    for (const candidate of ["a dog runs", "a dog runs on the sand", "a black cat on the beach today"]) {
      const expected = ciderD(new Map(single.map((_, p) => [String(p), candidate])), references).perImage;
      for (const [p, [reference]] of single.entries()) {
        const agreement = prior.agreement(words(candidate), predictionOf(prior, reference!));
        expect(agreement).toBeCloseTo(expected.get(String(p))!, 6); // the prediction is float32
      }
    }
  });

  it("profiles captions with unit tf-idf per order, counting n-grams outside the list in the norm", () => {
    const prior = blankPrior(CAPTIONS);
    const full = prior.profile(words("a dog runs on the beach"));
    expect(full.length).toBe(5);
    const squares = full.values.reduce((s, v) => s + v * v, 0);
    expect(squares).toBeCloseTo(4 / 16, 10); // four orders, each unit length, each weighted 1/4
    const unseen = prior.profile(words("a dog runs on the moon"));
    const listed = unseen.values.reduce((s, v) => s + v * v, 0);
    expect(listed).toBeLessThan(4 / 16);
    expect(unseen.columns.every((c) => !prior.data.ngrams[c]!.includes("moon"))).toBe(true);
  });

  it("fits the regression so that each training photo's vector predicts its own captions' mean profile", () => {
    const set = trainingSet();
    // More inputs (7 + bias) than photos and almost no ridge: the fit interpolates its targets.
    const data = fitNgramPrior(set, { minPhotos: 1, ridge: 1e-9 });
    const prior = new NgramPrior(data);
    expect(data.ngrams.length).toBe(frequencies(CAPTIONS).size);
    expect(data.ngrams.slice(0, 3).every((g) => !g.includes(" "))).toBe(true); // unigrams first
    CAPTIONS.forEach((list, p) => {
      const raw = set.vectors.slice(p * 7, p * 7 + 7).map((v, j) => v + set.mean[j]!);
      const predicted = prior.predict(raw);
      const expected = new Float64Array(data.ngrams.length);
      let length = 0;
      for (const caption of list) {
        const profile = prior.profile(words(caption));
        profile.columns.forEach((c, i) => {
          expected[c]! += profile.values[i]! / list.length;
        });
        length += profile.length / list.length;
      }
      expect(predicted.length).toBeCloseTo(length, 4);
      predicted.profile.forEach((v, c) => {
        expect(v).toBeCloseTo(expected[c]!, 4);
      });
    });
    // n-grams of fewer photos than minPhotos are left out; "a" is in three photos' captions
    const common = fitNgramPrior(set, { minPhotos: 2 });
    expect(common.ngrams).toEqual(["a", "dog", "on", "the", "a dog"]);
    expect(common.documentFrequency).toEqual([3, 2, 2, 2, 2]);
    expect(common.unseenFrequency).toBe(1);
    expect(() => fitNgramPrior(set, { minPhotos: 5 })).toThrow(/no n-gram occurs/);
  });

  it("keeps the beam's order without weight and moves up the caption the photo's prediction agrees with", () => {
    const set = trainingSet();
    const raw = (p: number) => set.vectors.slice(p * 7, p * 7 + 7).map((v, j) => v + set.mean[j]!);
    const data = fitNgramPrior(set, { minPhotos: 1, ridge: 1e-6, settings: { weight: 0, alpha: 0 } });
    const proposals = [
      { words: words("a man rides a bike"), logProb: -5 },
      { words: words("a dog runs on the sand"), logProb: -6 },
      { words: words("kids play in the snow"), logProb: -7 },
    ];
    expect(new NgramPrior(data).rank(proposals, raw(0))).toEqual([0, 1, 2]);
    const weighted = new NgramPrior({ ...data, settings: { weight: 8, alpha: 0 } });
    expect(weighted.rank(proposals, raw(0))[0]).toBe(1);
    expect(weighted.rank(proposals, raw(1))[0]).toBe(2);
    expect(weighted.rank(proposals, raw(2))[0]).toBe(0);
    expect(() => weighted.predict(new Float32Array(6))).toThrow(/6 values, expected 7/);
  });

  it("predicts the plain product of the normalised vector and its bias row with the weights", () => {
    // widths 9 and 4 + 5: the product runs four rows at a time, with a remainder and the bias row after
    const random = mulberry32(7);
    const [width, outputs] = [9, 6];
    const data: NgramPriorData = {
      parts: [4, 5],
      mean: Float32Array.from({ length: width }, () => random() - 0.5),
      ngrams: Array.from({ length: outputs - 1 }, (_, i) => `w${i}`),
      documentFrequency: Array.from({ length: outputs - 1 }, () => 1),
      photos: 2,
      unseenFrequency: 1,
      weights: Float32Array.from({ length: (width + 1) * outputs }, () => random() - 0.5),
      settings: { weight: 1, alpha: 0 },
    };
    const raw = Float32Array.from({ length: width }, () => random() * 2);
    const x = [...normalizeParts(raw, data.mean, data.parts), 1];
    const expected = Array.from({ length: outputs }, (_, o) =>
      x.reduce((sum, xj, j) => sum + xj * data.weights[j * outputs + o]!, 0),
    );
    const predicted = new NgramPrior(data).predict(raw);
    expect(predicted.length).toBeCloseTo(expected[outputs - 1]!, 12);
    for (const [o, v] of predicted.profile.entries()) expect(v).toBeCloseTo(expected[o]!, 6); // float32
  });

  it("saves and loads: same predictions up to float16, clear errors on bad folders", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "captionkit-prior-"));
    try {
      const set = trainingSet();
      const data: NgramPriorData = fitNgramPrior(set, { minPhotos: 1 });
      await saveNgramPrior(dir, data, { model: "m", encoder: "e", weights: "abc", source: { ridge: 0.3 } });
      const loaded = await loadNgramPrior(dir);
      expect(loaded.model).toBe("m");
      expect(loaded.weights).toBe("abc");
      expect(loaded.prior.data.ngrams).toEqual(data.ngrams);
      const raw = set.vectors.slice(0, 7);
      const a = new NgramPrior(data).predict(raw);
      const b = loaded.prior.predict(raw);
      expect(b.length).toBeCloseTo(a.length, 2);
      b.profile.forEach((v, c) => {
        expect(v).toBeCloseTo(a.profile[c]!, 2);
      });
      await writeFile(path.join(dir, PRIOR_WEIGHTS_FILE), new Uint8Array(10));
      await expect(loadNgramPrior(dir)).rejects.toThrow(/does not match ngram-prior.json/);
      await expect(loadNgramPrior(path.join(dir, "nope"))).rejects.toThrow(/captionkit prior/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

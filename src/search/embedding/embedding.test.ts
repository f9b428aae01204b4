import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../tfjs/backend.js";
import { tempDir } from "../test-fixtures.js";
import { loadJointEmbedding, saveJointEmbedding } from "./io.js";
import { HUBNESS_BANK, JointEmbedding } from "./model.js";
import { embeddingSimilarity } from "./similarity.js";
import { TextFeaturizer } from "./text-features.js";
import { type EmbeddingPairs, evaluateEmbedding, forwardWithTf, trainJointEmbedding } from "./train.js";

const COLOURS = ["red", "green", "blue", "yellow", "black", "white"];
const SHAPES = ["dog", "cat", "car", "tree", "boat", "bird"];

/** Images whose pooled vector encodes a colour and a shape (plus noise), captioned with both words. */
function synthetic(n: number, seed: number): EmbeddingPairs {
  let s = seed;
  const random = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const dim = 24;
  const pooled = new Float32Array(n * dim);
  const captions: string[][] = [];
  for (let i = 0; i < n; i++) {
    const c = Math.floor(random() * COLOURS.length);
    const h = Math.floor(random() * SHAPES.length);
    for (let j = 0; j < dim; j++) pooled[i * dim + j] = random() * 0.6;
    pooled[i * dim + c]! += 1;
    pooled[i * dim + 12 + h]! += 1;
    captions.push([`A ${COLOURS[c]} ${SHAPES[h]}.`, `The ${SHAPES[h]} is ${COLOURS[c]}!`]);
  }
  return { ids: captions.map((_, i) => String(i)), pooled, captions };
}

const config = {
  encoder: "test",
  imageParts: [12, 12],
  imageHidden: [16],
  wordDim: 8,
  textHidden: [16],
  jointDim: 8,
};

describe("joint embedding", () => {
  beforeAll(async () => {
    await initBackend("wasm");
  });

  it("featurizes unigrams and frequent bigrams, ignoring punctuation and unknown words", () => {
    const f = TextFeaturizer.build(["A red dog.", "a red dog runs", "red cat"], {
      minUnigramCount: 2,
      minBigramCount: 2,
    });
    expect(f.terms).toEqual(["red", "a", "dog", "a red", "red dog"]);
    expect(f.termIds("A red dog, zebra!").map((id) => f.terms[id])).toEqual([
      "a",
      "red",
      "a red",
      "dog",
      "red dog",
    ]);
    const bag = new Float32Array(2 * f.size);
    f.fillBag(f.termIds("red red"), bag, 1);
    expect([...bag.subarray(f.size)]).toEqual([1, 0, 0, 0, 0]);
  });

  it("plain TypeScript inference matches the tfjs training forward pass", () => {
    const data = synthetic(5, 3);
    const model = JointEmbedding.init(
      config,
      TextFeaturizer.build(data.captions.flat(), { minUnigramCount: 1 }),
      7,
    );
    model.param("image/mean").values.fill(0.3);
    const texts = data.captions.map((c) => c[0]!);
    const reference = forwardWithTf(model, data.pooled, texts);
    for (let i = 0; i < 5; i++) {
      const image = model.embedImage(data.pooled.subarray(i * 24, (i + 1) * 24));
      const text = model.embedText(texts[i]!)!;
      for (let j = 0; j < 8; j++) {
        expect(image[j]).toBeCloseTo(reference.images[i * 8 + j]!, 4);
        expect(text[j]).toBeCloseTo(reference.texts[i * 8 + j]!, 4);
      }
    }
    expect(model.embedText("zebra")).toBeUndefined();
  });

  it("search vectors subtract the hubness penalty in the same dot product", () => {
    const data = synthetic(3, 5);
    const model = JointEmbedding.init(
      config,
      TextFeaturizer.build(data.captions.flat(), { minUnigramCount: 1 }),
      3,
    );
    const pooled = data.pooled.subarray(0, 24);
    const image = model.embedImage(pooled);
    const query = model.embedText("a red dog")!;
    const cosine = image.reduce((s, v, j) => s + v * query[j]!, 0);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, j) => s + v * b[j]!, 0);
    expect(dot(model.searchVector(pooled), model.queryVector("a red dog")!)).toBeCloseTo(cosine, 5);
    const bank = ["a blue cat", "the boat is white"];
    model.setHubnessBank(bank, 1, 0.5);
    const hub = Math.max(...bank.map((t) => dot(image, model.embedText(t)!)));
    expect(dot(model.searchVector(pooled), model.queryVector("a red dog")!)).toBeCloseTo(
      cosine - 0.5 * hub,
      5,
    );
  });

  it("a bank stored as text embeddings scores as the hubness computed from the bank's texts", async () => {
    const data = synthetic(40, 21);
    const model = JointEmbedding.init(
      config,
      TextFeaturizer.build(data.captions.flat(), { minUnigramCount: 1 }),
      5,
    );
    model.param("image/mean").values.fill(0.3);
    // "zebra okapi" has no known word: the texts-based bank skipped it, the vector bank must too
    const bank = [
      ...COLOURS.flatMap((c, i) => [
        `a ${c} ${SHAPES[i]} near the tree`,
        `the ${SHAPES[(i + 2) % 6]} is ${c}`,
      ]),
      "zebra okapi",
    ];
    const queries = ["a red dog", "the boat is white", "green bird", "a black cat"];
    const k = 3;
    const beta = 0.8;
    const dir = path.join(await tempDir(), "hub");
    model.setHubnessBank(bank, k, beta);
    expect(model.param(HUBNESS_BANK).shape).toEqual([bank.length - 1, 8]);
    await saveJointEmbedding(model, dir);
    const manifest = await readFile(path.join(dir, "model.json"), "utf8");
    expect(JSON.parse(manifest).hubness).toEqual({ k, beta });
    for (const text of bank) expect(manifest).not.toContain(text);
    const loaded = await loadJointEmbedding(dir);
    expect(loaded.hubness).toEqual({ k, beta });

    // The texts-based computation, written out here: embed every bank text, then per image
    // score = cosine(query, image) - beta x mean of the k largest cosines(image, bank text).
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, j) => sum + v * b[j]!, 0);
    const textsBased = (m: JointEmbedding) => {
      const bankVectors = bank.map((t) => m.embedText(t)).filter((v) => v !== undefined);
      const images = Array.from({ length: 40 }, (_, i) =>
        m.embedImage(data.pooled.subarray(i * 24, (i + 1) * 24)),
      );
      const hubs = images.map((image) => {
        const top = bankVectors
          .map((t) => dot(image, t))
          .sort((a, b) => b - a)
          .slice(0, k);
        return top.reduce((a, b) => a + b, 0) / k;
      });
      const scores = queries.flatMap((q) =>
        images.map((image, i) => dot(m.embedText(q)!, image) - beta * hubs[i]!),
      );
      return { hubs, scores };
    };
    for (const [m, tolerance] of [
      [model, 1e-6],
      // the loaded bank is float16 (the reference re-embeds the texts in float32 from the same weights)
      [loaded, 1e-3],
    ] as const) {
      const { hubs, scores } = textsBased(m);
      // the penalty differs from image to image, so a wrong bank, k or beta shows in the scores
      expect(Math.max(...hubs) - Math.min(...hubs)).toBeGreaterThan(0.05);
      const got = embeddingSimilarity(m, data.pooled, queries);
      expect(got.length).toBe(scores.length);
      scores.forEach((want, i) => {
        expect(Math.abs(got[i]! - want)).toBeLessThan(tolerance);
      });
    }

    // Legacy model.json (bank as texts, no bank weight) still loads, into the same scores.
    const legacy = path.join(await tempDir(), "legacy");
    const plain = JointEmbedding.init(model.config, model.featurizer, 5);
    for (const [name, p] of model.params) if (name !== HUBNESS_BANK) plain.param(name).values.set(p.values);
    await saveJointEmbedding(plain, legacy);
    const file = path.join(legacy, "model.json");
    await writeFile(
      file,
      JSON.stringify({ ...JSON.parse(await readFile(file, "utf8")), hubness: { texts: bank, k, beta } }),
    );
    const fromTexts = await loadJointEmbedding(legacy);
    expect(fromTexts.param(HUBNESS_BANK).shape).toEqual([bank.length - 1, 8]);
    const legacyScores = embeddingSimilarity(fromTexts, data.pooled, queries);
    const loadedScores = embeddingSimilarity(loaded, data.pooled, queries);
    legacyScores.forEach((v, i) => {
      expect(Math.abs(v - loadedScores[i]!)).toBeLessThan(1e-3);
    });

    // hubness without its bank weight is refused; clearHubness drops both
    const { [HUBNESS_BANK]: _, ...rest } = Object.fromEntries(loaded.params);
    expect(
      () => new JointEmbedding(config, loaded.featurizer, new Map(Object.entries(rest)), { k, beta }),
    ).toThrow(/without its bank weight/);
    loaded.clearHubness();
    expect(loaded.params.has(HUBNESS_BANK)).toBe(false);
    expect(loaded.searchVector(data.pooled.subarray(0, 24))[8]).toBe(0);
  });

  it("learns to retrieve with InfoNCE, without leaking tensors, and survives a save/load round trip", async () => {
    const train = synthetic(600, 11);
    const val = synthetic(100, 99);
    const featurizer = TextFeaturizer.build(train.captions.flat());
    const before = evaluateEmbedding(JointEmbedding.init(config, featurizer, 1), val).textToImage;
    const tensors = tf.memory().numTensors;
    const result = await trainJointEmbedding(config, featurizer, train, {
      epochs: 20,
      batchSize: 64,
      learningRate: 5e-3,
      dropout: 0,
      validation: val,
      evalEvery: 4,
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(result.history[result.history.length - 1]!.loss).toBeLessThan(result.history[0]!.loss);
    const after = evaluateEmbedding(result.model, val).textToImage;
    // 36 colour-shape combinations among 100 images: R@5 near 1 is reachable, chance is 0.05
    expect(before["R@5"]).toBeLessThan(0.4);
    expect(after["R@5"]).toBeGreaterThan(0.7);
    expect(after["R@5"]).toBeCloseTo(result.best!.textToImage["R@5"], 5);

    const dir = path.join(await tempDir(), "embedding");
    await saveJointEmbedding(result.model, dir, { note: "test" });
    const loaded = await loadJointEmbedding(dir);
    const a = result.model.embedText("a red dog")!;
    const b = loaded.embedText("a red dog")!;
    // float16 weights: cosine of the two vectors stays ~1
    expect(a.reduce((s, v, i) => s + v * b[i]!, 0)).toBeGreaterThan(0.999);
  });
});

import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../tfjs/backend.js";
import { tempDir } from "../test-fixtures.js";
import { loadJointEmbedding, saveJointEmbedding } from "./io.js";
import { JointEmbedding } from "./model.js";
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
    model.hubness = { texts: bank, k: 1, beta: 0.5 };
    const hub = Math.max(...bank.map((t) => dot(image, model.embedText(t)!)));
    expect(dot(model.searchVector(pooled), model.queryVector("a red dog")!)).toBeCloseTo(
      cosine - 0.5 * hub,
      5,
    );
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

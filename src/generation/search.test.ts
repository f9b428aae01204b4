import { beforeAll, describe, expect, it } from "vitest";
import { END_ID, SPECIAL_TOKENS, START_ID, UNK_ID, Vocabulary } from "../data/vocabulary.js";
import { createDecoder } from "../decoders/factory.js";
import { ParamInit } from "../decoders/params.js";
import type { FeatureBatch } from "../decoders/runtime.js";
import { TfjsRuntime } from "../decoders/tfjs-runtime.js";
import type {
  CaptionDecoder,
  DecoderConfig,
  DecoderInputs,
  DecoderShape,
  DecoderState,
  DecoderStep,
} from "../decoders/types.js";
import { initBackend, tf } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import { CaptionModel } from "./caption-model.js";
import { confidenceOf, formatCaption } from "./format.js";
import { type BeamSearchOptions, beamSearch, greedySearch, repeatingTokens } from "./search.js";

const captionOn = (d: CaptionDecoder, v: Vocabulary, x: DecoderInputs, o: { beam: number }) =>
  new CaptionModel(new TfjsRuntime(d), v, { name: "test", encoder: "test", weightsDigest: "" }).caption(
    [asBatch(x)],
    o,
  );
const asBatch = (x: DecoderInputs): FeatureBatch => ({
  count: x.grid.shape[0],
  grid: x.grid.dataSync() as Float32Array,
  pooled: x.pooled.dataSync() as Float32Array,
});
const greedyOn = (d: CaptionDecoder, x: DecoderInputs, o?: BeamSearchOptions) =>
  greedySearch(new TfjsRuntime(d), [asBatch(x)], o);
const beamOn = (d: CaptionDecoder, x: DecoderInputs, o?: BeamSearchOptions) =>
  beamSearch(new TfjsRuntime(d), [asBatch(x)], o);

// ids: 0 <pad>, 1 <start>, 2 <end>, 3 <unk>, then the words below
const WORDS = ["a", "b", "c", "d"];
const [A, B, C, D] = [4, 5, 6, 7];
const vocabulary = new Vocabulary({ tokens: [...SPECIAL_TOKENS, ...WORDS], minCount: 1, maxLength: 6 });

/**
 * A decoder whose next-token distribution depends only on the previous token (a Markov chain given as
 * a table), so the probability of every sequence is known exactly.
 */
class TableDecoder implements CaptionDecoder {
  readonly config: DecoderConfig = {
    kind: "show-attend-tell",
    embedDim: 1,
    hiddenDim: 1,
    attentionDim: 1,
    dropout: 0,
  };
  readonly shape: DecoderShape = { vocabSize: 8, regions: 1, featureDim: 1, pooledDim: 1 };
  readonly variables = new Map<string, tf.Variable>();
  readonly logTable: number[][];

  constructor(rows: Record<number, Record<number, number>>) {
    this.logTable = Array.from({ length: 8 }, (_, prev) => {
      const row = new Array(8).fill(1e-6);
      for (const [token, p] of Object.entries(rows[prev] ?? { [END_ID]: 1 })) row[Number(token)] = p;
      const total = row.reduce((a, b) => a + b, 0);
      return row.map((p) => Math.log(p / total));
    });
  }

  forward(_inputs: DecoderInputs, tokens: tf.Tensor2D) {
    return {
      logits: tf.tidy(() => tf.gather(tf.tensor2d(this.logTable), tokens) as tf.Tensor) as tf.Tensor3D,
    };
  }
  start(inputs: DecoderInputs): DecoderState {
    return { image: tf.clone(inputs.pooled) };
  }
  step(state: DecoderState, previous: tf.Tensor1D): DecoderStep {
    return tf.tidy(() => ({
      logProbs: tf.gather(tf.tensor2d(this.logTable), previous) as tf.Tensor2D,
      state: { image: tf.clone(state.image as tf.Tensor) },
    }));
  }
  gatherState(state: DecoderState, indices: tf.Tensor1D): DecoderState {
    return { image: tf.gather(state.image as tf.Tensor, indices) };
  }
  dispose(): void {}

  /** log p of a word sequence followed by <end>. */
  logProb(words: number[]): number {
    let prev = START_ID;
    let total = 0;
    for (const token of [...words, END_ID]) {
      total += this.logTable[prev]?.[token] as number;
      prev = token;
    }
    return total;
  }
}

const oneImage = (): DecoderInputs => ({ grid: tf.zeros([1, 1, 1]), pooled: tf.zeros([1, 1]) });

// Greedy takes "a" (0.5) and then "c" (0.36): p(a c) = 0.18. The best sequence is "b" (0.4 * 0.9 = 0.36).
const trap = {
  [START_ID]: { [A]: 0.5, [B]: 0.4, [C]: 0.1 },
  [A]: { [C]: 0.36, [D]: 0.34, [END_ID]: 0.3 },
  [B]: { [END_ID]: 0.9, [C]: 0.1 },
};

describe("beam search on a decoder with known probabilities", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
  });

  it("greedy follows the locally best token; beam 2 finds the best sequence", () => {
    const decoder = new TableDecoder(trap);
    const greedy = greedyOn(decoder, oneImage())[0];
    expect(greedy?.tokens).toEqual([A, C, END_ID]);
    expect(greedy?.logProb).toBeCloseTo(decoder.logProb([A, C]), 4);
    const beams = beamOn(decoder, oneImage(), { beam: 2 })[0] ?? [];
    expect(beams[0]?.tokens).toEqual([B, END_ID]);
    expect(beams[0]?.logProb).toBeCloseTo(Math.log(0.36), 3);
    expect(beams[0]?.tokenLogProbs.length).toBe(2);
  });

  it("finds the most probable sequence found by exhaustive enumeration", () => {
    const init = new ParamInit(3);
    for (let trial = 0; trial < 5; trial++) {
      // random chains over the four words
      const rows: Record<number, Record<number, number>> = {};
      for (const prev of [START_ID, A, B, C, D]) {
        const p = init.uniform(5, 1).map((v) => (v + 1.05) ** 3);
        rows[prev] = { [A]: p[0] as number, [B]: p[1] as number, [C]: p[2] as number, [D]: p[3] as number };
        if (prev !== START_ID) (rows[prev] as Record<number, number>)[END_ID] = p[4] as number;
      }
      const decoder = new TableDecoder(rows);
      let best = { words: [] as number[], logProb: -Infinity };
      const visit = (words: number[]) => {
        if (words.length > 0) {
          const lp = decoder.logProb(words);
          if (lp > best.logProb) best = { words, logProb: lp };
        }
        if (words.length < 3) for (const w of [A, B, C, D]) visit([...words, w]);
      };
      visit([]);
      const found = beamOn(decoder, oneImage(), { beam: 30, maxLength: 3 })[0]?.[0];
      expect(found?.tokens).toEqual([...best.words, END_ID]);
      expect(found?.logProb).toBeCloseTo(best.logProb, 3);
    }
  });

  it("ranks by log p / length^alpha", () => {
    const decoder = new TableDecoder(trap);
    const beams = beamOn(decoder, oneImage(), { beam: 3, alpha: 1 })[0] ?? [];
    for (const h of beams) expect(h.score).toBeCloseTo(h.logProb / h.tokens.length, 6);
    for (let i = 1; i < beams.length; i++)
      expect(beams[i - 1]?.score).toBeGreaterThanOrEqual(beams[i]?.score as number);
  });

  it("stops at maxLength with a forced <end> and respects minLength", () => {
    const chain = new TableDecoder({
      [START_ID]: { [A]: 0.9, [END_ID]: 0.1 },
      [A]: { [B]: 0.99, [END_ID]: 0.01 },
      [B]: { [C]: 0.99, [END_ID]: 0.01 },
      [C]: { [D]: 0.99, [END_ID]: 0.01 },
      [D]: { [A]: 0.99, [END_ID]: 0.01 },
    });
    for (const beam of [1, 3]) {
      const all = beamOn(chain, oneImage(), { beam, maxLength: 3 })[0] ?? [];
      for (const h of all) {
        expect(h.tokens.length).toBeLessThanOrEqual(4);
        expect(h.tokens[h.tokens.length - 1]).toBe(END_ID);
      }
      expect(all[0]?.tokens).toEqual(beam === 1 ? [A, B, C, END_ID] : [A, END_ID]);
    }
    const short = new TableDecoder({ [START_ID]: { [END_ID]: 0.9, [B]: 0.1 } });
    expect(greedyOn(short, oneImage())[0]?.tokens).toEqual([B, END_ID]);
    expect(beamOn(short, oneImage(), { beam: 2 })[0]?.[0]?.tokens).toEqual([B, END_ID]);
  });

  it("blocks repeated n-grams when asked", () => {
    expect(repeatingTokens([A, B, C, A, B], 3)).toEqual([C]);
    expect(repeatingTokens([A, B, A, B], 3)).toEqual([A]);
    expect(repeatingTokens([A, B], 3)).toEqual([]);
    expect(repeatingTokens([A, B, A], 0)).toEqual([]);
    const loop = new TableDecoder({
      [START_ID]: { [A]: 0.9, [END_ID]: 0.1 },
      [A]: { [B]: 0.9, [END_ID]: 0.1 },
      [B]: { [A]: 0.8, [C]: 0.1, [END_ID]: 0.1 },
    });
    expect(greedyOn(loop, oneImage(), { maxLength: 6 })[0]?.tokens).toEqual([A, B, A, B, A, B, END_ID]);
    expect(greedyOn(loop, oneImage(), { maxLength: 6, noRepeatNgram: 2 })[0]?.tokens).toEqual([
      A,
      B,
      A,
      END_ID,
    ]);
    const bigrams = (tokens: number[]) => tokens.slice(1).map((token, i) => `${tokens[i]} ${token}`);
    for (const h of beamOn(loop, oneImage(), { beam: 3, maxLength: 6, noRepeatNgram: 2 })[0] ?? []) {
      const words = h.tokens.slice(0, -1);
      expect(new Set(bigrams(words)).size).toBe(bigrams(words).length);
    }
  });

  it("never returns <unk>: the best beam without it wins, else <unk> is masked", () => {
    const unkFirst = new TableDecoder({
      [START_ID]: { [UNK_ID]: 0.6, [A]: 0.4 },
      [UNK_ID]: { [END_ID]: 1 },
      [A]: { [END_ID]: 1 },
    });
    const [viaBeam] = captionOn(unkFirst, vocabulary, oneImage(), { beam: 3 });
    expect(viaBeam?.caption).toBe("A.");
    const onlyUnk = new TableDecoder({
      [START_ID]: { [UNK_ID]: 0.97, [C]: 0.02, [D]: 0.01 },
      [UNK_ID]: { [UNK_ID]: 0.9, [END_ID]: 0.1 },
    });
    for (const beam of [1, 2]) {
      const [result] = captionOn(onlyUnk, vocabulary, oneImage(), { beam });
      expect(result?.caption).toBe("C.");
      expect(result?.tokens).toEqual(["c"]);
    }
  });

  it("scores a caption with its length-normalised log-probability", () => {
    const decoder = new TableDecoder(trap);
    const images: DecoderInputs = { grid: tf.zeros([2, 1, 1]), pooled: tf.zeros([2, 1]) };
    const shared = new TfjsRuntime(decoder).captionLogProbs(asBatch(images), [A, C]);
    expect(shared[0]).toBeCloseTo(decoder.logProb([A, C]) / 3, 4);
    expect(shared[1]).toBeCloseTo(shared[0] as number, 6);
    const each = new TfjsRuntime(decoder).captionLogProbs(asBatch(images), [[B], [A, D]], 1);
    expect(each[0]).toBeCloseTo(decoder.logProb([B]) / 2, 4);
    expect(each[1]).toBeCloseTo(decoder.logProb([A, D]) / 3, 4);
  });
});

describe("confidence of the alternatives", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
  });

  it("comes from the ranking: an alternative never shows more confidence than the caption above it", () => {
    // "a" (p 0.45, 2 tokens: geometric mean 0.67) wins on probability; "b c" (p 0.385, 3 tokens) has
    // the higher geometric mean 0.73, which the old alternatives showed beside the less confident main
    const decoder = new TableDecoder({
      [START_ID]: { [A]: 0.45, [B]: 0.55 },
      [A]: { [END_ID]: 1 },
      [B]: { [C]: 0.7, [END_ID]: 0.3 },
      [C]: { [END_ID]: 1 },
    });
    const [result] = captionOn(decoder, vocabulary, oneImage(), { beam: 3 });
    expect(result?.caption).toBe("A.");
    expect(result?.confidence).toBeCloseTo(Math.sqrt(0.45), 5);
    expect(result?.alternatives.map((a) => a.caption)).toEqual(["B c.", "B."]);
    const shown = [result!.confidence, ...result!.alternatives.map((a) => a.confidence)];
    for (let i = 1; i < shown.length; i++) expect(shown[i]).toBeLessThanOrEqual(shown[i - 1]!);
    // best confidence x the ratio of the two captions' probabilities
    expect(result?.alternatives[0]?.confidence).toBeCloseTo(Math.sqrt(0.45) * (0.385 / 0.45), 4);
  });
});

describe("generation with real decoders", () => {
  const shape: DecoderShape = { vocabSize: 8, regions: 4, featureDim: 6, pooledDim: 5 };
  const configs: DecoderConfig[] = [
    { kind: "show-attend-tell", embedDim: 6, hiddenDim: 8, attentionDim: 5, dropout: 0 },
    { kind: "transformer", layers: 1, modelDim: 8, heads: 2, feedForwardDim: 12, dropout: 0, maxLength: 8 },
  ];
  const inputs = (count: number, seed: number): DecoderInputs => {
    const init = new ParamInit(seed);
    return {
      grid: tf.tensor3d(init.uniform(count * 24, 2), [count, 4, 6]),
      pooled: tf.tensor2d(init.uniform(count * 5, 2), [count, 5]),
    };
  };

  it.each(configs)("$kind: beam 1 equals greedy, batching changes nothing, no tensors leak", (config) => {
    for (let seed = 1; seed <= 4; seed++) {
      const decoder = createDecoder(config, shape, seed);
      const x = inputs(3, seed + 10);
      const before = tf.memory().numTensors;
      const greedy = greedyOn(decoder, x, { maxLength: 6 });
      const beam1 = beamOn(decoder, x, { beam: 1, maxLength: 6 });
      greedy.forEach((h, i) => {
        expect(beam1[i]?.[0]?.tokens).toEqual(h.tokens);
        expect(beam1[i]?.[0]?.logProb).toBeCloseTo(h.logProb, 4);
      });
      const batched = beamOn(decoder, x, { beam: 3, maxLength: 6 });
      expect(tf.memory().numTensors).toBe(before);
      for (let i = 0; i < 3; i++) {
        const alone = tf.tidy(() => ({
          grid: tf.slice(x.grid, i, 1) as tf.Tensor3D,
          pooled: tf.slice(x.pooled, i, 1) as tf.Tensor2D,
        }));
        const single = beamOn(decoder, alone, { beam: 3, maxLength: 6 })[0];
        expect(single?.map((h) => h.tokens)).toEqual(batched[i]?.map((h) => h.tokens));
      }
      decoder.dispose();
    }
  });

  it.each(configs)(
    "$kind: captionLogProbs of a generated caption equals its search log-probability",
    (config) => {
      const decoder = createDecoder(config, shape, 6);
      const x = inputs(3, 7);
      const greedy = greedyOn(decoder, x, { maxLength: 6 });
      const words = greedy.map((h) => h.tokens.slice(0, -1)); // without <end>
      const scored = new TfjsRuntime(decoder).captionLogProbs(asBatch(x), words);
      greedy.forEach((h, i) => {
        expect(scored[i]).toBeCloseTo(h.logProb / h.tokens.length, 4);
      });
      decoder.dispose();
    },
  );

  it("returns sentences, confidences and per-word attention maps (Show-Attend-Tell)", () => {
    const decoder = createDecoder(configs[0] as DecoderConfig, shape, 2);
    const info = { name: "test", encoder: "test", weightsDigest: "" };
    const model = new CaptionModel(new TfjsRuntime(decoder), vocabulary, info);
    const results = model.caption([asBatch(inputs(2, 5))], { beam: 3, alternatives: 2 });
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r.caption).toMatch(/^[A-Z].*\.$/);
      expect(r.caption).not.toMatch(/unk/);
      expect(r.confidence).toBeGreaterThan(0);
      expect(r.confidence).toBeLessThanOrEqual(1);
      expect(r.alternatives.length).toBeLessThanOrEqual(2);
      for (const alt of r.alternatives) expect(alt.caption).not.toBe(r.caption);
      expect(r.attention).toHaveLength(r.tokens.length);
      expect(r.attentionGrid).toEqual([2, 2]);
      for (const map of r.attention ?? []) expect(map.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    }
    decoder.dispose();
  });
});

describe("caption formatting", () => {
  it("capitalises, re-attaches clitics and punctuation, ends with one period", () => {
    expect(formatCaption(["a", "dog", "'s", "ball", "on", "the", "grass"])).toBe(
      "A dog's ball on the grass.",
    );
    expect(formatCaption(["two", "men", ",", "one", "smiling", "."])).toBe("Two men, one smiling.");
    expect(formatCaption(["it", "is", "n't", "red", "!"])).toBe("It isn't red.");
    expect(formatCaption([])).toBe("");
  });

  it("defines confidence as the geometric-mean token probability", () => {
    expect(confidenceOf([Math.log(0.5), Math.log(0.125)])).toBeCloseTo(0.25, 10);
    expect(confidenceOf([0, 0])).toBe(1);
    expect(confidenceOf([])).toBe(0);
  });
});

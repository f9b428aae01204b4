import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import { EnsembleDecoder } from "./ensemble.js";
import { createDecoder } from "./factory.js";
import { imageVectorParts, imageVectors } from "./image-vectors.js";
import { ParamInit } from "./params.js";
import { tinyTransformer } from "./test-utils/tiny.js";
import type { DecoderInputs } from "./types.js";

const vocabSize = 19;
const regions = 4;
const makeMembers = () => [
  createDecoder(
    {
      kind: "transformer",
      layers: 1,
      modelDim: 8,
      heads: 2,
      feedForwardDim: 12,
      dropout: 0.3,
      maxLength: 10,
    },
    { vocabSize, regions, featureDim: 6, pooledDim: 5 },
    1,
  ),
  createDecoder(
    { kind: "show-attend-tell", embedDim: 6, hiddenDim: 8, attentionDim: 5, dropout: 0.5 },
    { vocabSize, regions, featureDim: 3, pooledDim: 2 },
    2,
  ),
];

function randomInputs(batch: number, featureDim: number, pooledDim: number, seed: number): DecoderInputs {
  const init = new ParamInit(seed);
  return {
    grid: tf.tensor3d(init.uniform(batch * regions * featureDim, 1), [batch, regions, featureDim]),
    pooled: tf.tensor2d(init.uniform(batch * pooledDim, 1), [batch, pooledDim]),
  };
}

describe("EnsembleDecoder", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
  });

  it("averages the members' probabilities, each member reading its own slice of the features", () => {
    const members = makeMembers();
    const ensemble = new EnsembleDecoder(members);
    expect(ensemble.shape).toEqual({ vocabSize, regions, featureDim: 9, pooledDim: 7 });
    const a = randomInputs(2, 6, 5, 3);
    const b = randomInputs(2, 3, 2, 4);
    const joined = {
      grid: tf.concat([a.grid, b.grid], 2),
      pooled: tf.concat([a.pooled, b.pooled], 1),
    } as DecoderInputs;
    const start = tf.tensor1d([1, 1], "int32");
    const expected = tf.tidy(() => {
      const pa = tf.exp(members[0]!.step(members[0]!.start(a), start).logProbs);
      const pb = tf.exp(members[1]!.step(members[1]!.start(b), start).logProbs);
      return tf.log(tf.div(tf.add(pa, pb), 2)).arraySync() as number[][];
    });
    const got = ensemble.step(ensemble.start(joined), start).logProbs.arraySync();
    got.forEach((row, i) => {
      row.forEach((v, k) => {
        expect(v).toBeCloseTo(expected[i]![k]!, 5);
      });
    });
    ensemble.dispose();
  });

  it("gives the same log-probabilities teacher-forced as step by step, gathers beams, leaks nothing", () => {
    const ensemble = new EnsembleDecoder(makeMembers());
    const x = randomInputs(2, 9, 7, 5);
    const tokens = tf.tensor2d(
      [
        [1, 4, 7, 2],
        [1, 9, 3, 3],
      ],
      [2, 4],
      "int32",
    );
    const before = tf.memory().numTensors;
    const forced = tf.tidy(() => ensemble.forward(x, tokens, false).logits.arraySync());
    let state = ensemble.start(x);
    (tf.unstack(tokens, 1) as tf.Tensor1D[]).forEach((column, position) => {
      const step = ensemble.step(state, column);
      step.logProbs.arraySync().forEach((row, b) => {
        row.forEach((v, k) => {
          expect(v).toBeCloseTo(forced[b]![position]![k]!, 4);
        });
      });
      tf.dispose(state);
      const index = tf.tensor1d([1, 0], "int32");
      // swap the rows twice over the loop: gathering must move every member's state together
      const swapped = ensemble.gatherState(step.state, index);
      state = ensemble.gatherState(swapped, index);
      tf.dispose([index, step.logProbs, column, ...Object.values(step.state), ...Object.values(swapped)]);
    });
    tf.dispose(state);
    expect(tf.memory().numTensors).toBe(before);
    ensemble.dispose();
  });

  it("feeds a member trained on a coarser grid the k x k block means of the ensemble's grid", () => {
    const fine = createDecoder(tinyTransformer(), { vocabSize, regions: 16, featureDim: 3, pooledDim: 2 }, 4);
    const coarse = createDecoder(tinyTransformer(), { vocabSize, regions, featureDim: 3, pooledDim: 2 }, 5);
    const ensemble = new EnsembleDecoder([fine, coarse]);
    expect(ensemble.shape.regions).toBe(16);
    const x = randomInputs(1, 6, 4, 6);
    // 4x4 grid of the fine member; the coarse member must see its 2x2 block means, computed by hand here
    const fineGrid = tf.tensor3d(
      Array.from({ length: 16 * 3 }, (_, i) => Math.sin(i)),
      [1, 16, 3],
    );
    const values = fineGrid.arraySync()[0]!;
    const means: number[][] = [];
    for (const [r, c] of [
      [0, 0],
      [0, 2],
      [2, 0],
      [2, 2],
    ] as const)
      means.push(
        [0, 1, 2].map(
          (ch) =>
            (values[r * 4 + c]![ch]! +
              values[r * 4 + c + 1]![ch]! +
              values[(r + 1) * 4 + c]![ch]! +
              values[(r + 1) * 4 + c + 1]![ch]!) /
            4,
        ),
      );
    const joined = {
      grid: tf.concat([fineGrid, fineGrid], 2),
      pooled: tf.concat([x.pooled.slice([0, 0], [1, 2]), x.pooled.slice([0, 2], [1, 2])], 1),
    } as DecoderInputs;
    const start = tf.tensor1d([1], "int32");
    const expected = tf.tidy(() => {
      const pf = tf.exp(
        fine.step(fine.start({ grid: fineGrid, pooled: x.pooled.slice([0, 0], [1, 2]) }), start).logProbs,
      );
      const coarseInputs = { grid: tf.tensor3d([means], [1, 4, 3]), pooled: x.pooled.slice([0, 2], [1, 2]) };
      const pc = tf.exp(coarse.step(coarse.start(coarseInputs), start).logProbs);
      return tf.log(tf.div(tf.add(pf, pc), 2)).arraySync() as number[][];
    });
    const got = ensemble.step(ensemble.start(joined), start).logProbs.arraySync();
    got[0]!.forEach((v, k) => {
      expect(v).toBeCloseTo(expected[0]![k]!, 5);
    });
    ensemble.dispose();
  });

  it("gives the members' image vectors side by side (their pooled slices when they have no head)", () => {
    const ensemble = new EnsembleDecoder(makeMembers());
    expect(imageVectorParts(ensemble)).toEqual([5, 2]);
    const inputs = randomInputs(3, 9, 7, 4);
    const vectors = imageVectors(ensemble, inputs);
    expect(vectors.shape).toEqual([3, 7]);
    expect(Array.from(vectors.dataSync())).toEqual(Array.from(inputs.pooled.dataSync()));
    tf.dispose([vectors, inputs.grid, inputs.pooled]);
    ensemble.dispose();
  });

  it("refuses members with different vocabularies or grids", () => {
    const [first] = makeMembers();
    const other = createDecoder(
      { kind: "show-attend-tell", embedDim: 6, hiddenDim: 8, attentionDim: 5, dropout: 0 },
      { vocabSize: vocabSize + 1, regions, featureDim: 3, pooledDim: 2 },
      3,
    );
    expect(() => new EnsembleDecoder([first!, other])).toThrow(/vocabulary/);
    const nineRegions = createDecoder(
      { kind: "show-attend-tell", embedDim: 6, hiddenDim: 8, attentionDim: 5, dropout: 0 },
      { vocabSize, regions: 9, featureDim: 3, pooledDim: 2 },
      4,
    );
    expect(() => new EnsembleDecoder([first!, nineRegions])).toThrow(/same square grid/);
    expect(() => new EnsembleDecoder([first!])).toThrow(/at least two/);
  });
});

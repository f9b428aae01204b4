import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import { createDecoder } from "./factory.js";
import { ParamInit } from "./params.js";
import type { CaptionDecoder, DecoderConfig, DecoderInputs, DecoderShape } from "./types.js";

/** One shared suite every decoder passes (STYLE.md: interfaces with contract tests). */
const shape: DecoderShape = { vocabSize: 23, regions: 6, featureDim: 10, pooledDim: 7 };
const configs: DecoderConfig[] = [
  { kind: "show-attend-tell", embedDim: 8, hiddenDim: 12, attentionDim: 9, dropout: 0.5 },
  {
    kind: "show-attend-tell",
    embedDim: 8,
    hiddenDim: 12,
    attentionDim: 9,
    dropout: 0.5,
    featureBatchNorm: true,
    gate: "scalar",
  },
  { kind: "transformer", layers: 2, modelDim: 16, heads: 4, feedForwardDim: 24, dropout: 0.1, maxLength: 12 },
];

function inputs(batch: number, seed: number): DecoderInputs {
  const init = new ParamInit(seed);
  return {
    grid: tf.tensor3d(init.uniform(batch * shape.regions * shape.featureDim, 1), [
      batch,
      shape.regions,
      shape.featureDim,
    ]),
    pooled: tf.tensor2d(init.uniform(batch * shape.pooledDim, 1), [batch, shape.pooledDim]),
  };
}

const tokens = () =>
  tf.tensor2d(
    [
      [1, 5, 9, 4, 2, 0, 0],
      [1, 7, 7, 3, 12, 8, 2],
      [1, 22, 2, 0, 0, 0, 0],
    ],
    [3, 7],
    "int32",
  );

async function weightsOf(decoder: CaptionDecoder): Promise<Float32Array[]> {
  return Promise.all([...decoder.variables.values()].map(async (v) => (await v.data()) as Float32Array));
}

describe.each(configs)("decoder contract: $kind", (config) => {
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
  });

  it("has the documented shapes and stable, unique variable names", () => {
    const decoder = createDecoder(config, shape, 3);
    const x = inputs(3, 1);
    const t = tokens();
    const { logits, auxLoss } = decoder.forward(x, t, true);
    expect(logits.shape).toEqual([3, 7, shape.vocabSize]);
    if (config.kind === "show-attend-tell") expect(auxLoss?.shape).toEqual([]);
    const state = decoder.start(x);
    const step = decoder.step(state, tf.tensor1d([1, 1, 1], "int32"));
    expect(step.logProbs.shape).toEqual([3, shape.vocabSize]);
    const probSums = tf.exp(step.logProbs).sum(1).arraySync() as number[];
    for (const s of probSums) expect(s).toBeCloseTo(1, 4);
    if (config.kind === "show-attend-tell") expect(step.attention?.shape).toEqual([3, shape.regions]);
    const gathered = decoder.gatherState(step.state, tf.tensor1d([2, 2, 0, 1], "int32"));
    for (const tensor of Object.values(gathered)) expect(tensor.shape[0]).toBe(4);
    const names = [...decoder.variables.keys()];
    expect(new Set(names).size).toBe(names.length);
    expect(names.every((n) => /^[a-z_]+(\/[a-z0-9_]+)+$/.test(n))).toBe(true);
    decoder.dispose();
  });

  it("is deterministic under a seed and differs across seeds", async () => {
    const a = createDecoder(config, shape, 42);
    const b = createDecoder(config, shape, 42);
    const c = createDecoder(config, shape, 43);
    const [wa, wb, wc] = await Promise.all([weightsOf(a), weightsOf(b), weightsOf(c)]);
    expect(wa).toEqual(wb);
    expect(wa).not.toEqual(wc);
    const x = inputs(3, 2);
    const la = a.forward(x, tokens(), false).logits.dataSync();
    const lb = b.forward(x, tokens(), false).logits.dataSync();
    expect(Array.from(la)).toEqual(Array.from(lb));
    for (const d of [a, b, c]) d.dispose();
  });

  it("leaks no tensors in forward, a gradient step or a generation loop", () => {
    const decoder = createDecoder(config, shape, 5);
    const x = inputs(3, 3);
    const t = tokens();
    const before = tf.memory().numTensors;
    const { logits, auxLoss } = decoder.forward(x, t, true);
    logits.dispose();
    auxLoss?.dispose();
    const { value, grads } = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const out = decoder.forward(x, t, true);
          return out.auxLoss ? tf.add(tf.mean(out.logits), out.auxLoss) : tf.mean(out.logits);
        }) as tf.Scalar,
    );
    expect(Object.keys(grads).length).toBe(decoder.variables.size);
    value.dispose();
    tf.dispose(grads);
    let state = decoder.start(x);
    let previous = tf.tensor1d([1, 1, 1], "int32");
    for (let i = 0; i < 5; i++) {
      const step = decoder.step(state, previous);
      tf.dispose(state);
      previous.dispose();
      previous = tf.argMax(step.logProbs, 1) as tf.Tensor1D;
      const index = tf.tensor1d([0, 0, 2], "int32");
      state = decoder.gatherState(step.state, index);
      index.dispose();
      tf.dispose([step.logProbs, step.attention ?? [], step.state]);
    }
    tf.dispose(state);
    previous.dispose();
    expect(tf.memory().numTensors).toBe(before);
    decoder.dispose();
  });

  it("reads each caption's image through imageRows exactly as from repeated inputs", () => {
    const decoder = createDecoder(config, shape, 5);
    const distinct = inputs(2, 6);
    const rows = tf.tensor1d([1, 0, 1], "int32");
    const repeated = { grid: tf.gather(distinct.grid, rows), pooled: tf.gather(distinct.pooled, rows) };
    const t = tokens();
    const lossOf = (x: DecoderInputs, imageRows?: tf.Tensor1D) => () =>
      tf.mean(decoder.forward(x, t, false, imageRows).logits) as tf.Scalar;
    const viaRows = tf.variableGrads(lossOf(distinct, rows));
    const viaRepeats = tf.variableGrads(lossOf(repeated));
    expect(viaRows.value.dataSync()[0]).toBeCloseTo(viaRepeats.value.dataSync()[0] as number, 6);
    for (const [name, grad] of Object.entries(viaRepeats.grads)) {
      const other = viaRows.grads[name] as tf.Tensor;
      expect(tf.max(tf.abs(tf.sub(grad, other))).dataSync()[0]).toBeLessThan(1e-6);
    }
    tf.dispose([distinct.grid, distinct.pooled, rows, repeated.grid, repeated.pooled, t]);
    tf.dispose([
      viaRows.value,
      viaRepeats.value,
      ...Object.values(viaRows.grads),
      ...Object.values(viaRepeats.grads),
    ]);
    decoder.dispose();
  });

  it("gives the same logits teacher-forced as step by step (dropout off)", () => {
    const decoder = createDecoder(config, shape, 7);
    const x = inputs(3, 4);
    const t = tokens();
    const forced = tf.logSoftmax(decoder.forward(x, t, false).logits).arraySync() as number[][][];
    let state = decoder.start(x);
    const columns = tf.unstack(t, 1) as tf.Tensor1D[];
    columns.forEach((column, position) => {
      const step = decoder.step(state, column);
      const stepped = step.logProbs.arraySync();
      stepped.forEach((row, b) => {
        row.forEach((v, k) => {
          expect(v).toBeCloseTo((forced[b] as number[][])[position]?.[k] as number, 4);
        });
      });
      state = step.state;
    });
    decoder.dispose();
  });
});

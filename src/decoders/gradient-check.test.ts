import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import {
  configureNativeMatMul,
  DEFAULT_MIN_INNER,
  DEFAULT_MIN_MACS,
  enableNativeMatMul,
  nativeMatMulCounts,
} from "../tfjs/native-matmul.js";
import { createDecoder } from "./factory.js";
import {
  additiveAttention,
  applyDense,
  batchNorm,
  causalMask,
  layerNorm,
  lstmCell,
  multiHeadAttention,
  transformerBlock,
} from "./layers.js";
import { ParamInit } from "./params.js";
import type { DecoderConfig, DecoderShape } from "./types.js";

/*
 * Every layer's analytic gradient against central finite differences, float32, on a tiny size: a few
 * random coordinates of every input and weight, relative error < 1e-2. Run twice: analytic gradients on
 * the cpu backend, and on wasm with every matrix product on onnxruntime
 * (thresholds 0, native-matmul.ts). Finite differences always run on cpu: its reductions accumulate in
 * float64, wasm's in float32, whose round-off alone moves a difference quotient by 1-3% at this size.
 */

type Spec = Record<string, number[]>;
type Layer = (t: Record<string, tf.Tensor>) => tf.Tensor;

/** Loss values for finite differences, always computed on the cpu backend (see above). */
function onCpu<T>(f: () => T): T {
  const previous = tf.getBackend();
  tf.setBackend("cpu");
  try {
    return f();
  } finally {
    tf.setBackend(previous);
  }
}

// Small enough that a step rarely crosses a ReLU kink, large enough for float32 round-off (loss ~1).
const EPS = 2e-3;

function relativeError(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-2);
}

/** Checks d(sum(layer(inputs) * probe))/d(input) for `coordinates` random entries of every input. */
function gradCheck(spec: Spec, layer: Layer, seed: number, coordinates = 4): void {
  const init = new ParamInit(seed);
  const names = Object.keys(spec);
  const values = names.map((name) =>
    init.uniform(
      (spec[name] as number[]).reduce((a, b) => a * b, 1),
      0.8,
    ),
  );
  const build = (vals: Float32Array[]) =>
    Object.fromEntries(names.map((name, i) => [name, tf.tensor(vals[i] as Float32Array, spec[name])]));
  const probeShape = tf.tidy(() => layer(build(values)).shape);
  const probe = tf.tensor(
    init.uniform(
      probeShape.reduce((a, b) => a * b, 1),
      1,
    ),
    probeShape,
  );
  const loss = (vals: Float32Array[]) =>
    onCpu(() => tf.tidy(() => tf.sum(tf.mul(layer(build(vals)), probe)).dataSync()[0] as number));
  const analytic = tf.tidy(() => {
    const tensors = names.map((name, i) => tf.tensor(values[i] as Float32Array, spec[name]));
    const f = (...xs: tf.Tensor[]) =>
      tf.sum(tf.mul(layer(Object.fromEntries(names.map((name, i) => [name, xs[i] as tf.Tensor]))), probe));
    return tf
      .grads(f)(tensors)
      .map((g) => g.dataSync() as Float32Array);
  });
  const picker = new ParamInit(seed + 1);
  names.forEach((name, i) => {
    const size = (values[i] as Float32Array).length;
    for (let k = 0; k < coordinates; k++) {
      const index = Math.floor(((picker.uniform(1, 1)[0] as number) * 0.5 + 0.5) * size) % size;
      const plus = values.map((v) => Float32Array.from(v));
      const minus = values.map((v) => Float32Array.from(v));
      (plus[i] as Float32Array)[index] = ((values[i] as Float32Array)[index] as number) + EPS;
      (minus[i] as Float32Array)[index] = ((values[i] as Float32Array)[index] as number) - EPS;
      const numeric = (loss(plus) - loss(minus)) / (2 * EPS);
      const exact = (analytic[i] as Float32Array)[index] as number;
      expect(
        relativeError(exact, numeric),
        `${name}[${index}]: analytic ${exact}, numeric ${numeric}`,
      ).toBeLessThan(1e-2);
    }
  });
  probe.dispose();
}

const dense = (t: Record<string, tf.Tensor>, name: string) => ({
  kernel: t[`${name}.kernel`] as tf.Tensor2D,
  bias: t[`${name}.bias`] as tf.Tensor1D,
});
const denseSpec = (name: string, fanIn: number, fanOut: number): Spec => ({
  [`${name}.kernel`]: [fanIn, fanOut],
  [`${name}.bias`]: [fanOut],
});
const attentionSpec = (name: string, d: number): Spec => ({
  ...denseSpec(`${name}.query`, d, d),
  ...denseSpec(`${name}.key`, d, d),
  ...denseSpec(`${name}.value`, d, d),
  ...denseSpec(`${name}.output`, d, d),
});
const attention = (t: Record<string, tf.Tensor>, name: string) => ({
  query: dense(t, `${name}.query`),
  key: dense(t, `${name}.key`),
  value: dense(t, `${name}.value`),
  output: dense(t, `${name}.output`),
});
const norm = (t: Record<string, tf.Tensor>, name: string) => ({
  gamma: t[`${name}.gamma`] as tf.Tensor1D,
  beta: t[`${name}.beta`] as tf.Tensor1D,
});

describe.each([
  { backend: "cpu" as const, native: false },
  { backend: "wasm" as const, native: true },
])(
  "gradient checks against finite differences ($backend, native products: $native)",
  ({ backend, native }) => {
    beforeAll(async () => {
      await initBackend(backend);
      if (native) {
        await enableNativeMatMul();
        applyWasmKernelFixes();
        configureNativeMatMul({ minMacs: 0, minInner: 0 });
        nativeMatMulCounts.native = 0;
      }
    });
    afterAll(() => {
      if (!native) return;
      configureNativeMatMul({ minMacs: DEFAULT_MIN_MACS, minInner: DEFAULT_MIN_INNER });
      expect(nativeMatMulCounts.native).toBeGreaterThan(100); // the products really went to onnxruntime
    });

    it("output layer (dense + log-softmax)", () => {
      gradCheck(
        { x: [3, 5], ...denseSpec("out", 5, 7) },
        (t) => tf.logSoftmax(applyDense(t.x as tf.Tensor, dense(t, "out"))),
        1,
      );
    });

    it("layer norm and batch norm (training mode)", () => {
      gradCheck(
        { x: [4, 6], "n.gamma": [6], "n.beta": [6] },
        (t) => layerNorm(t.x as tf.Tensor, norm(t, "n")),
        2,
      );
      const moving = {
        movingMean: tf.variable(tf.zeros([6]), false),
        movingVariance: tf.variable(tf.ones([6]), false),
      };
      gradCheck(
        { x: [5, 6], "n.gamma": [6], "n.beta": [6] },
        (t) => batchNorm(t.x as tf.Tensor, { ...norm(t, "n"), ...moving }, true),
        3,
      );
    });

    it.each([3, 1])("soft additive attention with the gate (%i gates)", (gates) => {
      gradCheck(
        {
          gridProjected: [2, 5, 4],
          grid: [2, 5, 3],
          hidden: [2, 6],
          ...denseSpec("decoder", 6, 4),
          ...denseSpec("score", 4, 1),
          ...denseSpec("gate", 6, gates),
        },
        (t) => {
          const { context, alpha } = additiveAttention(
            t.gridProjected as tf.Tensor3D,
            t.grid as tf.Tensor3D,
            t.hidden as tf.Tensor2D,
            { decoder: dense(t, "decoder"), score: dense(t, "score"), gate: dense(t, "gate") },
          );
          return tf.concat([context, alpha], 1);
        },
        4,
      );
    });

    it("LSTM cell", () => {
      gradCheck(
        { inputGates: [3, 16], h: [3, 4], c: [3, 4], recurrent: [4, 16] },
        (t) => {
          const next = lstmCell(
            t.inputGates as tf.Tensor2D,
            t.h as tf.Tensor2D,
            t.c as tf.Tensor2D,
            t.recurrent as tf.Tensor2D,
          );
          return tf.concat([next.h, next.c], 1);
        },
        5,
      );
    });

    it("multi-head attention with a causal mask", () => {
      const mask = causalMask(3);
      gradCheck(
        { q: [2, 3, 8], ...attentionSpec("a", 8) },
        (t) => multiHeadAttention(t.q as tf.Tensor3D, t.q as tf.Tensor3D, attention(t, "a"), 2, mask),
        6,
      );
    });

    it("pre-LN transformer block", () => {
      const mask = causalMask(3);
      const names = ["self_norm", "cross_norm", "ff_norm"];
      const normSpec: Spec = Object.fromEntries(
        names.flatMap((n) => [
          [`${n}.gamma`, [8]],
          [`${n}.beta`, [8]],
        ]),
      );
      gradCheck(
        {
          x: [2, 3, 8],
          memory: [2, 4, 8],
          ...normSpec,
          ...attentionSpec("self", 8),
          ...attentionSpec("cross", 8),
          ...denseSpec("ff_in", 8, 12),
          ...denseSpec("ff_out", 12, 8),
        },
        (t) =>
          transformerBlock(
            t.x as tf.Tensor3D,
            t.memory as tf.Tensor3D,
            {
              selfNorm: norm(t, "self_norm"),
              selfAttention: attention(t, "self"),
              crossNorm: norm(t, "cross_norm"),
              crossAttention: attention(t, "cross"),
              feedForwardNorm: norm(t, "ff_norm"),
              feedForwardIn: dense(t, "ff_in"),
              feedForwardOut: dense(t, "ff_out"),
            },
            2,
            mask,
          ),
        7,
        2,
      );
    });

    const shape: DecoderShape = { vocabSize: 9, regions: 4, featureDim: 5, pooledDim: 3 };
    const configs: DecoderConfig[] = [
      { kind: "show-attend-tell", embedDim: 4, hiddenDim: 5, attentionDim: 3, dropout: 0 },
      { kind: "transformer", layers: 1, modelDim: 8, heads: 2, feedForwardDim: 6, dropout: 0, maxLength: 6 },
    ];
    it.each(configs)(
      "whole $kind decoder: loss gradient w.r.t. every variable (incl. embeddings)",
      (config) => {
        const decoder = createDecoder(config, shape, 11);
        const init = new ParamInit(12);
        // The transformer's embeddings start tiny (std 0.02), where the first layer norm is so curved that a
        // finite-difference step measures curvature, not slope; check at a typical trained scale instead.
        for (const [name, variable] of decoder.variables) {
          if (/embedding|positions/.test(name))
            variable.assign(tf.tensor(init.uniform(variable.size, 1), variable.shape));
        }
        const grid = tf.tensor3d(init.uniform(2 * 4 * 5, 1), [2, 4, 5]);
        const pooled = tf.tensor2d(init.uniform(2 * 3, 1), [2, 3]);
        const tokens = tf.tensor2d([1, 4, 5, 2, 1, 8, 8, 3], [2, 4], "int32");
        const loss = () =>
          tf.tidy(() => {
            const { logits, auxLoss } = decoder.forward({ grid, pooled }, tokens, false);
            const ce = tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tokens, 9).toFloat()), -1));
            return (auxLoss ? tf.add(ce, tf.mul(auxLoss, 0.1)) : ce) as tf.Scalar;
          });
        const { grads } = tf.variableGrads(loss, [...decoder.variables.values()]);
        const picker = new ParamInit(13);
        for (const [name, variable] of decoder.variables) {
          const grad = (grads[variable.name] as tf.Tensor).dataSync();
          const original = variable.dataSync().slice();
          for (let k = 0; k < 2; k++) {
            const index =
              Math.floor(((picker.uniform(1, 1)[0] as number) * 0.5 + 0.5) * original.length) %
              original.length;
            const at = (delta: number) => {
              const changed = original.slice();
              changed[index] = (original[index] as number) + delta;
              variable.assign(tf.tensor(changed, variable.shape));
              return onCpu(() => {
                const value = loss();
                const out = value.dataSync()[0] as number;
                value.dispose();
                return out;
              });
            };
            const numeric = (at(EPS) - at(-EPS)) / (2 * EPS);
            variable.assign(tf.tensor(original, variable.shape));
            expect(relativeError(grad[index] as number, numeric), `${name}[${index}]`).toBeLessThan(1e-2);
          }
        }
        tf.dispose(grads);
        decoder.dispose();
      },
    );
  },
);

import type { ShowAttendTellConfig } from "../types.js";
import type { Graph } from "./graph.js";
import type { LeafPlan } from "./plan.js";

/*
 * ShowAttendTellDecoder (src/decoders/show-attend-tell.ts) as graph fragments: the start fragment
 * normalises the features (featureBatchNorm, running statistics), projects the grid for the attention
 * and computes h0/c0 per image; the step fragment is one attention + LSTM step.
 */

/** (x - mean) * rsqrt(variance + 1e-3) * gamma + beta with the running statistics, as batchNorm at inference. */
function batchNorm(g: Graph, x: string, name: string): string {
  const rsqrt = g.w(`${name}/moving_variance`, (w) => ({
    data: w.data.map((v) => 1 / Math.sqrt(v + 1e-3)),
    dims: w.dims,
  }));
  const centred = g.op("Sub", [x, g.w(`${name}/moving_mean`)]);
  return g.add(g.mul(g.mul(centred, rsqrt), g.w(`${name}/gamma`)), g.w(`${name}/beta`));
}

/** grid [N, regions, F], pooled [N, P] -> outputs `<p>grid`, `<p>grid_projected`, `<p>h`, `<p>c` per image. */
export function satStart(g: Graph, leaf: LeafPlan, grid: string, pooled: string): void {
  const config = leaf.config as ShowAttendTellConfig;
  const p = leaf.prefix;
  let normGrid = grid;
  let normPooled = pooled;
  if (config.featureBatchNorm) {
    normGrid = batchNorm(g, grid, "sat/grid_norm");
    if (leaf.inner.pooledDim > 0) normPooled = batchNorm(g, pooled, "sat/pooled_norm");
  }
  const initSource =
    leaf.inner.pooledDim > 0 ? normPooled : g.op("ReduceMean", [normGrid], { axes: [1], keepdims: 0 });
  g.output(`${p}grid`, normGrid);
  g.output(`${p}grid_projected`, g.dense(normGrid, "sat/attention/encoder"));
  g.output(`${p}h`, g.op("Tanh", [g.dense(initSource, "sat/init_h")]));
  g.output(`${p}c`, g.op("Tanh", [g.dense(initSource, "sat/init_c")]));
}

/**
 * One step. tokens [B] int32; groups: the int64 shape [G, -1] splitting the B rows into the G groups of
 * rows reading one image's grid (B = G x k, in order). Writes `<p>h_next`, `<p>c_next`; returns the
 * [B, vocab] log-probabilities and the attention weights [B, regions].
 */
export function satStep(
  g: Graph,
  leaf: LeafPlan,
  tokens: string,
  groups: string,
): { logProbs: string; alpha: string } {
  const { hiddenDim: hidden, attentionDim } = leaf.config as ShowAttendTellConfig;
  const { regions, featureDim } = leaf.inner;
  const p = leaf.prefix;
  const h = `${p}h`;
  const c = `${p}c`;
  const inGroups = (x: string, tail: number[]) =>
    g.op("Reshape", [x, g.op("Concat", [groups, g.ints(tail)], { axis: 0 })]);
  const embedded = g.op("Gather", [g.w("sat/embedding"), tokens], { axis: 0 }); // [B, E]
  const embedGates = g.dense(embedded, "sat/lstm/embed"); // [B, 4H]
  const fromHidden = inGroups(g.dense(h, "sat/attention/decoder"), [1, attentionDim]); // [G, k, 1, A]
  const projected = g.op("Unsqueeze", [`${p}grid_projected`, g.ints([1])]); // [G, 1, regions, A]
  const energy = g.op("Tanh", [g.add(projected, fromHidden)]); // [G, k, regions, A]
  const scores = g.op("Squeeze", [g.dense(energy, "sat/attention/score"), g.ints([3])]); // [G, k, regions]
  const alpha = g.op("Softmax", [scores], { axis: -1 });
  const weighted = g.reshape(g.op("MatMul", [alpha, `${p}grid`]), [-1, featureDim]); // [B, F]
  const context = g.mul(weighted, g.op("Sigmoid", [g.dense(h, "sat/attention/gate")])); // gate [B, F] or [B, 1]
  const inputGates = g.add(embedGates, g.op("MatMul", [context, g.w("sat/lstm/context")]));
  const gates = g.add(inputGates, g.op("MatMul", [h, g.w("sat/lstm/recurrent")])); // [B, 4H]
  const gate = (k: number) =>
    g.op("Slice", [gates, g.ints([k * hidden]), g.ints([(k + 1) * hidden]), g.ints([1])]);
  const sigmoid = (x: string) => g.op("Sigmoid", [x]);
  const [i, f, candidate, o] = [0, 1, 2, 3].map(gate) as [string, string, string, string];
  const cNext = g.add(g.mul(sigmoid(f), c), g.mul(sigmoid(i), g.op("Tanh", [candidate])));
  const hNext = g.mul(sigmoid(o), g.op("Tanh", [cNext]));
  const logProbs = g.op("LogSoftmax", [g.dense(hNext, "sat/output")], { axis: -1 });
  g.output(`${p}h_next`, hNext);
  g.output(`${p}c_next`, cNext);
  return { logProbs, alpha: g.reshape(alpha, [-1, regions]) };
}

export function satStepInputs(leaf: LeafPlan): { name: string; dims: (number | string)[] }[] {
  const { hiddenDim, attentionDim } = leaf.config as ShowAttendTellConfig;
  const { regions, featureDim } = leaf.inner;
  const p = leaf.prefix;
  return [
    { name: `${p}grid`, dims: ["groups", regions, featureDim] },
    { name: `${p}grid_projected`, dims: ["groups", regions, attentionDim] },
    { name: `${p}h`, dims: ["rows", hiddenDim] },
    { name: `${p}c`, dims: ["rows", hiddenDim] },
  ];
}

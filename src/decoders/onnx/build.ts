import { weightsOf as decoderWeights, Graph } from "./graph.js";
import { type DecoderPlan, imageTensorNames, type LeafPlan, rowTensors } from "./plan.js";
import { satStart, satStep, satStepInputs } from "./sat-graph.js";
import { centerNetTail } from "./tail-graph.js";
import { transformerStart, transformerStep, transformerStepInputs } from "./transformer-graph.js";

/*
 * The two graphs of a decoder. Inputs and outputs, N images and B rows (B = views x rows, view-major):
 *
 * start: grid [N, regions, featureDim], pooled [N, pooledDim] -> image_vectors [N, width] and, per leaf,
 *   the per-image values (transformer: cross keys/values; SAT: normalised grid, its projection, h0, c0).
 * step: tokens [views, rows] int32, position [1] int64 (tokens already seen; transformers only), the
 *   per-image values of G groups of rows (B = G x k: each image's values once for its k consecutive rows,
 *   or once per row) and the per-row state ->
 *   log_probs [rows, vocab] (log of the mean probability over views and ensemble members), the
 *   per-row state as `<name>_next`, and attention [B, regions] for a lone SAT decoder.
 */

function weightsOf(leaf: LeafPlan) {
  if (!leaf.decoder)
    throw new Error("onnx graphs: building needs the decoder (a plan from configs only cannot)");
  return decoderWeights(leaf.decoder);
}

/** The leaf's own grid and pooled vector: its channel slice of the whole features, k x k block means. */
function leafInputs(g: Graph, plan: DecoderPlan, leaf: LeafPlan): { grid: string; pooled: string } {
  if (plan.leaves.length === 1) return { grid: "grid", pooled: "pooled" };
  const { featureDim, pooledDim, regions } = leaf.outer;
  const slice = (x: string, from: number, width: number, axis: number) =>
    g.op("Slice", [x, g.ints([from]), g.ints([from + width]), g.ints([axis])]);
  let grid = slice("grid", leaf.gridOffset, featureDim, 2);
  if (leaf.pool > 1) {
    const side = Math.round(Math.sqrt(plan.shape.regions));
    const image = g.transpose(g.reshape(grid, [-1, side, side, featureDim]), [0, 3, 1, 2]);
    const pooledImage = g.op("AveragePool", [image], {
      kernel_shape: [leaf.pool, leaf.pool],
      strides: [leaf.pool, leaf.pool],
    });
    grid = g.reshape(g.transpose(pooledImage, [0, 2, 3, 1]), [-1, regions, featureDim]);
  }
  return { grid, pooled: slice("pooled", leaf.pooledOffset, pooledDim, 1) };
}

export function buildStartGraph(plan: DecoderPlan): Uint8Array {
  const outputs: string[] = ["image_vectors"];
  const parts: string[] = [];
  const g = new Graph();
  for (const leaf of plan.leaves) {
    g.weight = weightsOf(leaf);
    let inputs = leafInputs(g, plan, leaf);
    if (leaf.head) inputs = centerNetTail(g, leaf.head, inputs.grid);
    parts.push(inputs.pooled); // the head's output, or the features' own pooled vector
    if (leaf.config.kind === "transformer") transformerStart(g, leaf, inputs.grid, inputs.pooled);
    else satStart(g, leaf, inputs.grid, inputs.pooled);
    outputs.push(...startOutputs(leaf));
  }
  g.output("image_vectors", parts.length === 1 ? (parts[0] as string) : g.op("Concat", parts, { axis: 1 }));
  const { regions, featureDim, pooledDim } = plan.shape;
  return g.build(
    "captionkit decoder start",
    [
      { name: "grid", dims: ["images", regions, featureDim] },
      { name: "pooled", dims: ["images", pooledDim] },
    ],
    outputs,
  );
}

function startOutputs(leaf: LeafPlan): string[] {
  const p = leaf.prefix;
  if (leaf.config.kind === "transformer")
    return Array.from({ length: leaf.config.layers }, (_, l) => [
      `${p}cross_key_${l}`,
      `${p}cross_value_${l}`,
    ]).flat();
  return [`${p}grid`, `${p}grid_projected`, `${p}h`, `${p}c`];
}

export function buildStepGraph(plan: DecoderPlan): Uint8Array {
  const g = new Graph();
  const tokens = g.reshape("tokens", [-1]); // [B]
  const hasTransformer = plan.leaves.some((l) => l.config.kind === "transformer");
  const inputs: { name: string; dims: (number | string)[]; type?: "int32" | "int64" }[] = [
    { name: "tokens", dims: ["views", "rows"], type: "int32" },
    ...(hasTransformer ? [{ name: "position", dims: [1], type: "int64" as const }] : []),
  ];
  const outputs = ["log_probs"];
  // G, the number of per-image value sets the B rows are grouped over (read off the first of them)
  const groupCount = g.op("Shape", [imageTensorNames(plan.leaves[0]!)[0]!], { start: 0, end: 1 });
  const groupsOf = (tail: number[]) => g.op("Concat", [groupCount, g.ints(tail)], { axis: 0 });
  // [views, rows, vocab]: each leaf's rows split back into views
  const viewShape = g.op("Concat", [g.op("Shape", ["tokens"]), g.ints([plan.shape.vocabSize])], { axis: 0 });
  const parts: string[] = [];
  for (const leaf of plan.leaves) {
    g.weight = weightsOf(leaf);
    if (leaf.config.kind === "transformer") {
      const { heads, modelDim } = leaf.config;
      parts.push(transformerStep(g, leaf, tokens, "position", groupsOf([-1, heads, modelDim / heads])));
      inputs.push(...transformerStepInputs(leaf));
    } else {
      const { logProbs, alpha } = satStep(g, leaf, tokens, groupsOf([-1]));
      parts.push(logProbs);
      inputs.push(...satStepInputs(leaf));
      if (plan.leaves.length === 1) {
        g.output("attention", alpha);
        outputs.push("attention");
      }
    }
    outputs.push(...rowOutputs(leaf));
  }
  const stacked = g.op(
    "Concat",
    parts.map((part) => g.op("Reshape", [part, viewShape])),
    { axis: 0 },
  ); // [leaves x views, rows, vocab]
  g.output("log_probs", g.logMeanExp(stacked));
  return g.build("captionkit decoder step", inputs, outputs);
}

function rowOutputs(leaf: LeafPlan): string[] {
  return rowTensors(leaf).map((t) => `${t.name}_next`);
}

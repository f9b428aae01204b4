import type { TransformerDecoderConfig } from "../types.js";
import type { Graph } from "./graph.js";
import type { LeafPlan } from "./plan.js";

/*
 * TransformerDecoder (src/decoders/transformer.ts) as graph fragments, op for op: the start fragment
 * projects the image memory into every layer's cross-attention keys/values once per image; the step
 * fragment runs one token through the blocks with cached keys/values.
 */

function configOf(leaf: LeafPlan): TransformerDecoderConfig & { maxLength: number } {
  const config = leaf.config as TransformerDecoderConfig;
  return { ...config, maxLength: config.maxLength ?? 32 };
}

/** grid [N, regions, featureDim], pooled [N, pooledDim] -> outputs `<p>cross_key_l` [N, heads, headDim, slots] and `<p>cross_value_l` [N, heads, slots, headDim]. */
export function transformerStart(g: Graph, leaf: LeafPlan, grid: string, pooled: string): void {
  const { heads, modelDim: d, layers } = configOf(leaf);
  const headDim = d / heads;
  let slots = g.dense(grid, "transformer/memory/grid"); // [N, regions, d]
  if (leaf.inner.pooledDim > 0) {
    const token = g.op("Unsqueeze", [g.dense(pooled, "transformer/memory/pooled"), g.ints([1])]); // [N, 1, d]
    slots = g.op("Concat", [token, slots], { axis: 1 }); // pooled token first
  }
  const memory = g.layerNorm(g.add(slots, g.w("transformer/memory/positions")), "transformer/memory/norm");
  for (let l = 0; l < layers; l++) {
    const name = `transformer/layer${l}/cross_attention`;
    const split = (which: string) => g.reshape(g.dense(memory, `${name}/${which}`), [0, 0, heads, headDim]); // [N, S, heads, headDim]
    g.output(`${leaf.prefix}cross_key_${l}`, g.transpose(split("key"), [0, 2, 3, 1]));
    g.output(`${leaf.prefix}cross_value_${l}`, g.transpose(split("value"), [0, 2, 1, 3]));
  }
}

/** Scaled dot-product attention: q [X, heads, Q, hd], keysT [X, heads, hd, T], values [X, heads, T, hd] -> [X, heads, Q, hd]. */
function attend(g: Graph, q: string, keysT: string, values: string, headDim: number): string {
  const scores = g.mul(g.op("MatMul", [q, keysT]), g.scalar(1 / Math.sqrt(headDim))); // [X, heads, Q, T]
  return g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }), values]);
}

/**
 * One step. tokens [B] int32; position [1] int64 (tokens already seen); groups: the shape
 * [G, -1, heads, headDim] that splits the B rows into the G groups of rows reading one set of per-image
 * cross keys/values (rows are grouped in order: B = G x k). Writes `<p>self_key_l_next` and
 * `<p>self_value_l_next`; returns the [B, vocab] log-probabilities.
 */
export function transformerStep(
  g: Graph,
  leaf: LeafPlan,
  tokens: string,
  position: string,
  groups: string,
): string {
  const { heads, modelDim: d, layers } = configOf(leaf);
  const headDim = d / heads;
  const p = leaf.prefix;
  let x = g.add(
    g.op("Gather", [g.w("transformer/embedding"), tokens], { axis: 0 }),
    g.op("Gather", [g.w("transformer/positions"), position], { axis: 0 }),
  ); // [B, d]
  for (let l = 0; l < layers; l++) {
    const layer = `transformer/layer${l}`;
    const self = `${layer}/self_attention`;
    const selfIn = g.layerNorm(x, `${layer}/self_norm`);
    const q = g.reshape(g.dense(selfIn, `${self}/query`), [-1, heads, 1, headDim]);
    const k = g.reshape(g.dense(selfIn, `${self}/key`), [-1, heads, headDim, 1]);
    const v = g.reshape(g.dense(selfIn, `${self}/value`), [-1, heads, 1, headDim]);
    const keys = g.op("Concat", [`${p}self_key_${l}`, k], { axis: 3 }); // [B, heads, hd, t + 1]
    const values = g.op("Concat", [`${p}self_value_${l}`, v], { axis: 2 }); // [B, heads, t + 1, hd]
    const h = g.add(x, g.dense(g.reshape(attend(g, q, keys, values, headDim), [-1, d]), `${self}/output`));
    g.output(`${p}self_key_${l}_next`, keys);
    g.output(`${p}self_value_${l}_next`, values);
    const cross = `${layer}/cross_attention`;
    const crossQ = g.dense(g.layerNorm(h, `${layer}/cross_norm`), `${cross}/query`); // [B, d]
    // the k rows of a group attend to its one memory: [G, heads, k, hd] x [G, heads, hd, S]
    const grouped = g.transpose(g.op("Reshape", [crossQ, groups]), [0, 2, 1, 3]);
    const mixed = attend(g, grouped, `${p}cross_key_${l}`, `${p}cross_value_${l}`, headDim); // [G, heads, k, hd]
    const h2 = g.add(h, g.dense(g.reshape(g.transpose(mixed, [0, 2, 1, 3]), [-1, d]), `${cross}/output`));
    const inner = g.op("Relu", [g.dense(g.layerNorm(h2, `${layer}/ff_norm`), `${layer}/ff_in`)]);
    x = g.add(h2, g.dense(inner, `${layer}/ff_out`));
  }
  const logits = g.dense(g.layerNorm(x, "transformer/final_norm"), "transformer/output"); // [B, vocab]
  return g.op("LogSoftmax", [logits], { axis: -1 });
}

/** Step-graph inputs of a transformer leaf besides the shared ones. */
export function transformerStepInputs(leaf: LeafPlan): { name: string; dims: (number | string)[] }[] {
  const { heads, modelDim, layers } = configOf(leaf);
  const hd = modelDim / heads;
  const slots = leaf.inner.regions + (leaf.inner.pooledDim > 0 ? 1 : 0);
  const p = leaf.prefix;
  return Array.from({ length: layers }, (_, l) => [
    { name: `${p}cross_key_${l}`, dims: ["groups", heads, hd, slots] },
    { name: `${p}cross_value_${l}`, dims: ["groups", heads, slots, hd] },
    { name: `${p}self_key_${l}`, dims: ["rows", heads, hd, "t"] },
    { name: `${p}self_value_${l}`, dims: ["rows", heads, "t", hd] },
  ]).flat();
}

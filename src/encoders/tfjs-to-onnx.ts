import { OnnxGraphBuilder } from "../core/onnx-builder.js";
import { tf } from "../tfjs/backend.js";
import { fuseHardActivations } from "./fuse-hard-swish.js";
import type { GraphNode } from "./model-loader.js";
import { OP_HANDLERS, type TfValue } from "./tfjs-onnx-ops.js";

/**
 * Converts the part of a frozen tfjs graph model that feeds the requested output nodes into an ONNX
 * model (ModelProto bytes, in memory), so onnxruntime can run a built-in encoder several times faster
 * than tfjs wasm. Written here because no JS library converts tfjs graphs to ONNX (tf2onnx is Python
 * and needs the TF SavedModel); it supports exactly the ops of the built-in encoders' subgraphs
 * (see OP_HANDLERS) and names any other op in its error.
 *
 * Layout: the NHWC input is transposed to NCHW once, every conv runs in NCHW (filters reordered at
 * conversion), broadcast constants are laid out to match, and NCHW outputs are transposed back, so
 * each output has exactly the layout and values the tfjs graph gives. Hard-swish and hard-sigmoid become
 * onnxruntime's own ops (fuse-hard-swish.ts), with the same values.
 */
export interface TfjsToOnnxOptions {
  /** Graph nodes to expose as ONNX outputs (same names); only their ancestors are converted. */
  outputs: readonly string[];
  /**
   * Square input side the model will be run at: fixes H and W so TF "SAME" padding becomes explicit
   * ONNX pads. Absent: H and W stay symbolic and SAME maps to auto_pad SAME_UPPER.
   */
  inputSize?: number;
  /** ONNX opset (default 13: ReduceMean with an axes attribute, Squeeze/Clip with tensor inputs). */
  opset?: number;
  /** Rewrite hard-swish / hard-sigmoid into onnxruntime's ops (default true; false: TF's ops as they are, for comparison). */
  fuseActivations?: boolean;
}

const DEFAULT_OPSET = 13;

/** Node name of a TF input reference ("^ctrl" dependencies are dropped by the caller). */
function inputNodeName(ref: string, consumer: string): string {
  const [name, index] = ref.split(":");
  if (index !== undefined && index !== "0") {
    throw new Error(
      `tfjs-to-onnx: node "${consumer}" reads output ${index} of "${name}": multi-output ops are not supported`,
    );
  }
  return name!;
}

function dataInputs(node: GraphNode): string[] {
  return (node.input ?? []).filter((i) => !i.startsWith("^")).map((i) => inputNodeName(i, node.name));
}

/** The requested nodes and all their ancestors, each after its inputs. */
function ancestorsInOrder(nodes: Map<string, GraphNode>, outputs: readonly string[]): GraphNode[] {
  const order: GraphNode[] = [];
  const state = new Map<string, "open" | "done">();
  // iterative DFS post-order: graphs are hundreds of nodes deep
  const stack: { name: string; expanded: boolean }[] = outputs
    .map((name) => ({ name, expanded: false }))
    .reverse();
  while (stack.length > 0) {
    const top = stack.pop()!;
    const node = nodes.get(top.name);
    if (!node) throw new Error(`tfjs-to-onnx: the graph has no node "${top.name}"`);
    if (top.expanded) {
      state.set(top.name, "done");
      order.push(node);
      continue;
    }
    if (state.get(top.name) === "done") continue;
    if (state.get(top.name) === "open")
      throw new Error(`tfjs-to-onnx: the graph has a cycle through "${top.name}"`);
    state.set(top.name, "open");
    stack.push({ name: top.name, expanded: true });
    for (const input of dataInputs(node).reverse()) {
      if (state.get(input) !== "done") stack.push({ name: input, expanded: false });
    }
  }
  return order;
}

/** The float32 / int32 values of the constants among `nodes`, dequantized by tfjs. */
function readConstants(artifacts: tf.io.ModelArtifacts, nodes: GraphNode[]): Map<string, TfValue> {
  const wanted = new Set(nodes.filter((n) => n.op === "Const").map((n) => n.name));
  const specs = artifacts.weightSpecs ?? [];
  if (!artifacts.weightData) throw new Error("tfjs-to-onnx: the model artifacts hold no weights");
  // decodeWeights undoes the uint8 / float16 quantization of the weight files
  const tensors = tf.io.decodeWeights(artifacts.weightData, specs);
  const out = new Map<string, TfValue>();
  try {
    for (const name of wanted) {
      const t = tensors[name];
      if (!t) throw new Error(`tfjs-to-onnx: constant "${name}" has no weights in the model`);
      if (t.dtype !== "float32" && t.dtype !== "int32") {
        throw new Error(
          `tfjs-to-onnx: constant "${name}" has dtype ${t.dtype}; only float32 and int32 are supported`,
        );
      }
      const data = t.dtype === "float32" ? Float32Array.from(t.dataSync()) : Int32Array.from(t.dataSync());
      out.set(name, { kind: "const", name, data, shape: [...t.shape] });
    }
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  return out;
}

/** Channel count of a Placeholder's declared NHWC shape. */
function placeholderChannels(node: GraphNode): number {
  const dims = (node.attr?.shape as { shape?: { dim?: { size: string }[] } } | undefined)?.shape?.dim;
  const c = Number(dims?.[dims.length - 1]?.size);
  if (dims?.length !== 4 || !(c > 0)) {
    throw new Error(`tfjs-to-onnx: input "${node.name}" must be declared [N, H, W, C] with a fixed C`);
  }
  return c;
}

/**
 * tfjs GraphModel artifacts (as an IOHandler loads them) -> ONNX ModelProto bytes whose input is the
 * graph's Placeholder (NHWC float32, batch symbolic) and whose outputs are `options.outputs`.
 * Needs an initialised tfjs backend (it decodes the weights through tfjs).
 */
export function tfjsGraphToOnnx(artifacts: tf.io.ModelArtifacts, options: TfjsToOnnxOptions): Uint8Array {
  const topology = artifacts.modelTopology as { node?: GraphNode[] } | undefined;
  if (!topology?.node) throw new Error("tfjs-to-onnx: the artifacts are not a tfjs graph model");
  const nodes = new Map(topology.node.map((n) => [n.name, n]));
  const order = ancestorsInOrder(nodes, options.outputs);
  const unsupported = [
    ...new Set(
      order.filter((n) => n.op !== "Placeholder" && n.op !== "Const" && !OP_HANDLERS[n.op]).map((n) => n.op),
    ),
  ];
  if (unsupported.length > 0) {
    throw new Error(
      `tfjs-to-onnx: unsupported op${unsupported.length > 1 ? "s" : ""} ${unsupported.join(", ")}; supported: Placeholder, Const, ${Object.keys(OP_HANDLERS).join(", ")}`,
    );
  }

  const b = new OnnxGraphBuilder();
  b.reserve(options.outputs);
  const values = readConstants(artifacts, order);
  const inputs: { name: string; dims: (number | string)[] }[] = [];
  const side = options.inputSize;
  const nhwcCache = new Map<string, string>();
  const toNhwc = (v: { name: string }) => {
    let name = nhwcCache.get(v.name);
    if (!name) {
      name = b.node("Transpose", [v.name], { perm: [0, 2, 3, 1] }, `${v.name}/nhwc`);
      nhwcCache.set(v.name, name);
    }
    return name;
  };

  for (const node of order) {
    if (node.op === "Const") continue;
    if (node.op === "Placeholder") {
      const c = placeholderChannels(node);
      inputs.push({ name: node.name, dims: ["N", side ?? "H", side ?? "W", c] });
      b.unique(node.name);
      const name = b.node("Transpose", [node.name], { perm: [0, 3, 1, 2] }, `${node.name}/nchw`);
      values.set(node.name, { kind: "nchw", name, spatial: side ? [side, side] : undefined });
      continue;
    }
    const handler = OP_HANDLERS[node.op]!;
    const ins = dataInputs(node).map((name) => values.get(name)!);
    values.set(node.name, handler({ b, node, inputs: ins, toNhwc }));
  }

  for (const out of options.outputs) {
    const v = values.get(out)!;
    if (v.kind === "const") throw new Error(`tfjs-to-onnx: output "${out}" is a constant`);
    if (v.kind === "nchw") b.node("Transpose", [v.name], { perm: [0, 2, 3, 1] }, out, true);
    else b.node("Identity", [v.name], {}, out, true);
  }
  const model = b.build({
    name: "tfjs-graph",
    opset: options.opset ?? DEFAULT_OPSET,
    inputs,
    outputs: [...options.outputs],
  });
  return options.fuseActivations === false ? model : fuseHardActivations(model);
}

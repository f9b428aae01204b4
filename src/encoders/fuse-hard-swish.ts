import type { onnx as OnnxTypes } from "onnx-proto";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
type Node = OnnxTypes.INodeProto;
type Tensor = OnnxTypes.ITensorProto;

/** The opset that has HardSwish. */
const HARD_SWISH_OPSET = 14;

/**
 * Rewrites MobileNetV3's hard activations, as TF graphs spell them, into onnxruntime's own ops:
 *   hard-swish   Mul(Mul(x, c), Clip(Add(x, 3), 0, 6))  ->  HardSwish(x) (= x relu6(x + 3) / 6)
 *   hard-sigmoid Mul(c, Clip(Add(x, 3), 0, 6))          ->  HardSigmoid(x, 1/6, 1/2)
 * onnxruntime fuses a HardSwish into the convolution before it and keeps the chain in its blocked
 * layout; the four elementwise ops cost CenterNet at 448 ~40% of its time (bench/floors.ts), mostly
 * in layout conversions around them.
 *
 * The graphs' c is 1/6 stored in float16 (0.16662598), not 1/6, so the new op's output is the old one
 * over k = 6c. The rewrite is exact (to float rounding) because the factor is moved into the weights of
 * the convolutions downstream: a value scaled by k that reaches only convolutions, directly or through
 * ReduceMean and Mul by an unscaled value (a squeeze-excite block), gives the same result once those
 * convolutions' weights are multiplied by k. An activation whose output reaches anything else (a
 * residual Add, a graph output) is left as it was.
 *
 * Written here because onnxruntime's transformers only fuse the ONNX ops themselves, and no JS library
 * rewrites ONNX graphs.
 */
export function fuseHardActivations(model: Uint8Array): Uint8Array {
  const proto = onnx.ModelProto.decode(model);
  const graph = proto.graph;
  if (!graph?.node) return model;
  const nodes = graph.node;
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? "", t]));
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ""));
  const scalar = (name: string | undefined | null): number | undefined => {
    const t = name ? initializers.get(name) : undefined;
    const values = t ? floatValues(t) : undefined;
    return values?.length === 1 ? values[0] : undefined;
  };
  const only = (value: string): Node | undefined => {
    const users = consumers.get(value) ?? [];
    return users.length === 1 && !outputs.has(value) ? users[0] : undefined;
  };

  /** Weights to multiply by k so that `value` may shrink by k; undefined when it reaches other ops. */
  const compensation = (value: string, found: Tensor[] = []): Tensor[] | undefined => {
    if (outputs.has(value)) return undefined;
    for (const user of consumers.get(value) ?? []) {
      const [data, weight] = user.input ?? [];
      if (user.opType === "Conv" && data === value && weight !== value) {
        const w = weight ? initializers.get(weight) : undefined;
        if (!w || (consumers.get(weight!) ?? []).length !== 1 || floatValues(w) === undefined)
          return undefined;
        found.push(w);
      } else if (user.opType === "ReduceMean" || (user.opType === "Mul" && data !== weight)) {
        if (!compensation(user.output![0]!, found)) return undefined;
      } else return undefined;
    }
    return found;
  };

  let fused = 0;
  for (const clip of nodes) {
    if (clip.opType !== "Clip" || scalar(clip.input?.[1]) !== 0 || scalar(clip.input?.[2]) !== 6) continue;
    const add = producer.get(clip.input![0]!);
    if (add?.opType !== "Add" || !only(add.output![0]!)) continue;
    const x =
      scalar(add.input![1]) === 3 ? add.input![0] : scalar(add.input![0]) === 3 ? add.input![1] : undefined;
    const mul = only(clip.output![0]!);
    if (!x || mul?.opType !== "Mul") continue;
    const other = mul.input![0] === clip.output![0] ? mul.input![1]! : mul.input![0]!;
    const pre = producer.get(other);
    let c = scalar(other);
    const swish = c === undefined && pre?.opType === "Mul" && only(other) === mul && pre.input!.includes(x);
    if (swish) c = scalar(pre.input![0] === x ? pre.input![1] : pre.input![0]);
    if (c === undefined || Math.abs(6 * c - 1) > 1e-2) continue;
    const weights = compensation(mul.output![0]!);
    if (!weights) continue;
    for (const w of weights) scaleFloats(w, 6 * c);
    mul.input = [x];
    if (swish) {
      mul.opType = "HardSwish";
      mul.attribute = [];
    } else {
      mul.opType = "HardSigmoid";
      mul.attribute = [
        { name: "alpha", type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 / 6 },
        { name: "beta", type: onnx.AttributeProto.AttributeType.FLOAT, f: 0.5 },
      ];
    }
    fused++;
  }
  if (fused === 0) return model;
  graph.node = withoutDeadNodes(nodes, outputs);
  // onnxruntime warns on stderr about every initializer no node reads
  const read = new Set(graph.node.flatMap((n) => n.input ?? []));
  graph.initializer = (graph.initializer ?? []).filter((t) => read.has(t.name ?? ""));
  for (const set of proto.opsetImport ?? [])
    if (!set.domain && Number(set.version) < HARD_SWISH_OPSET) set.version = HARD_SWISH_OPSET;
  return onnx.ModelProto.encode(proto).finish();
}

/** The float32 values of an initializer (raw or listed), or undefined for another type. */
function floatValues(t: Tensor): Float32Array | undefined {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) return undefined;
  if (t.rawData && t.rawData.length > 0) return new Float32Array(new Uint8Array(t.rawData).buffer); // a copy: decoded bytes need not be 4-aligned
  return Float32Array.from(t.floatData ?? []);
}

function scaleFloats(t: Tensor, k: number): void {
  const values = Float32Array.from(floatValues(t)!, (v) => v * k);
  t.rawData = new Uint8Array(values.buffer);
  t.floatData = [];
}

/** The nodes some output depends on (the rewrite leaves the old Add, Clip and Mul unread). */
function withoutDeadNodes(nodes: Node[], outputs: Set<string>): Node[] {
  const live = new Set(outputs);
  const kept: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!(n.output ?? []).some((o) => live.has(o))) continue;
    kept.push(n);
    for (const input of n.input ?? []) live.add(input);
  }
  return kept.reverse();
}

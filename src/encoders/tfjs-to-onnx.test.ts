import { beforeAll, describe, expect, it } from "vitest";
import { loadOnnxRuntime } from "../core/onnxruntime.js";
import { initBackend, tf } from "../tfjs/backend.js";
import type { GraphNode } from "./model-loader.js";
import { tfjsGraphToOnnx } from "./tfjs-to-onnx.js";

const SIDE = 12;
const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const ints = (v: number[]) => ({ list: { i: v.map(String) } });
const str = (text: string) => ({ s: b64(text) });

function conv(
  name: string,
  inputs: string[],
  strides: number,
  fused: string[],
  depthwise = false,
): GraphNode {
  const op = depthwise
    ? fused.length > 0
      ? "FusedDepthwiseConv2dNative"
      : "DepthwiseConv2dNative"
    : fused.length > 0
      ? "_FusedConv2D"
      : "Conv2D";
  return {
    name,
    op,
    input: inputs,
    attr: {
      strides: ints([1, strides, strides, 1]),
      dilations: ints([1, 1, 1, 1]),
      padding: str("SAME"),
      data_format: str("NHWC"),
      ...(fused.length > 0 ? { fused_ops: { list: { s: fused.map(b64) } }, num_args: { i: "1" } } : {}),
    },
  };
}

const constNode = (name: string): GraphNode => ({ name, op: "Const", input: ["^x"], attr: {} });

/**
 * A tiny MobileNet-like graph in tfjs-converter JSON form. 12x12 input; every stride-2 SAME layer
 * needs asymmetric padding (TF pads the odd pixel at the end) and the 1x1 stride-2 conv a negative
 * one that TF clamps to 0. grid: [N, 3, 3, 8]; pooled: mean; pooled2: AvgPool + Squeeze.
 */
function tinyGraph(extraNodes: GraphNode[] = []): GraphNode[] {
  return [
    {
      name: "x",
      op: "Placeholder",
      attr: { shape: { shape: { dim: [-1, SIDE, SIDE, 3].map((size) => ({ size: String(size) })) } } },
    },
    ...["scale", "w1", "b1", "wd", "bd", "w3", "axes", "three"].map(constNode),
    { name: "scaled", op: "Mul", input: ["x", "scale"] }, // [3] constant against NHWC
    conv("conv1", ["scaled", "w1", "b1"], 2, ["BiasAdd", "Relu6"]), // [N, 6, 6, 4]
    conv("dw", ["conv1", "wd", "bd"], 2, ["BiasAdd", "Relu"], true), // depthwise x2: [N, 3, 3, 8]
    { name: "se", op: "Mean", input: ["dw", "axes"], attr: { keep_dims: { b: true } } }, // [N, 1, 1, 8]
    { name: "gate", op: "Sigmoid", input: ["se"] },
    { name: "mul", op: "Mul", input: ["gate", "dw"] },
    conv("short", ["conv1", "w3"], 2, []), // 1x1 stride 2: [N, 3, 3, 8]
    { name: "sum", op: "AddV2", input: ["mul", "short"] },
    { name: "added", op: "Add", input: ["sum", "three"] },
    { name: "grid", op: "Relu6", input: ["added"] },
    { name: "pooled", op: "Mean", input: ["grid", "axes"], attr: { keep_dims: { b: false } } },
    {
      name: "avg",
      op: "AvgPool",
      input: ["grid"],
      attr: {
        ksize: ints([1, 3, 3, 1]),
        strides: ints([1, 1, 1, 1]),
        padding: str("VALID"),
        data_format: str("NHWC"),
      },
    },
    { name: "pooled2", op: "Squeeze", input: ["avg"], attr: { squeeze_dims: ints([1, 2]) } },
    ...extraNodes,
  ];
}

function values(n: number, seed: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed) * scale);
}

async function artifacts(nodes: GraphNode[]): Promise<tf.io.ModelArtifacts> {
  const weights: tf.NamedTensorMap = {
    scale: tf.tensor1d(values(3, 1, 2)),
    w1: tf.tensor4d(values(3 * 3 * 3 * 4, 2, 0.5), [3, 3, 3, 4]),
    b1: tf.tensor1d(values(4, 3, 0.3)),
    wd: tf.tensor4d(values(3 * 3 * 4 * 2, 4, 0.5), [3, 3, 4, 2]),
    bd: tf.tensor1d(values(8, 5, 0.3)),
    w3: tf.tensor4d(values(4 * 8, 6, 0.5), [1, 1, 4, 8]),
    axes: tf.tensor1d([1, 2], "int32"),
    three: tf.scalar(-1.5),
  };
  const { data, specs } = await tf.io.encodeWeights(weights);
  for (const t of Object.values(weights)) t.dispose();
  return {
    modelTopology: { node: nodes, versions: { producer: 1 } },
    format: "graph-model",
    weightSpecs: specs,
    weightData: data,
  };
}

const OUTPUTS = ["grid", "pooled", "pooled2"];

async function runOnnx(model: Uint8Array, x: Float32Array, n: number): Promise<Float32Array[]> {
  const ort = await loadOnnxRuntime();
  const session = await ort.InferenceSession.create(model);
  try {
    const out = await session.run({ x: new ort.Tensor("float32", x, [n, SIDE, SIDE, 3]) });
    return OUTPUTS.map((name) => Float32Array.from(out[name]!.data as Float32Array));
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("tfjsGraphToOnnx", () => {
  let art: tf.io.ModelArtifacts;
  let reference: Float32Array[];
  const n = 2;
  const x = values(n * SIDE * SIDE * 3, 7, 1.2);

  beforeAll(async () => {
    await initBackend();
    art = await artifacts(tinyGraph());
    const model = await tf.loadGraphModel(tf.io.fromMemory(art));
    const out = model.execute(tf.tensor4d(x, [n, SIDE, SIDE, 3]), OUTPUTS) as tf.Tensor[];
    reference = await Promise.all(out.map(async (t) => Float32Array.from(await t.data())));
    expect(out.map((t) => t.shape)).toEqual([
      [n, 3, 3, 8],
      [n, 8],
      [n, 8],
    ]);
    tf.dispose(out);
    model.dispose();
  });

  for (const inputSize of [SIDE, undefined]) {
    it(`matches tfjs (SAME stride 2, depthwise, fused bias+relu6, mean) with ${inputSize ? "explicit pads" : "auto_pad"}`, async () => {
      const got = await runOnnx(tfjsGraphToOnnx(art, { outputs: OUTPUTS, inputSize }), x, n);
      for (const [k, want] of reference.entries()) {
        const scale = Math.max(...Array.from(want, Math.abs));
        expect(scale).toBeGreaterThan(0.1);
        expect(maxAbsDiff(got[k]!, want)).toBeLessThan(1e-5 * scale);
      }
    });
  }

  it("converts only the ancestors of the requested outputs", async () => {
    const withUnrelated = await artifacts(
      tinyGraph([{ name: "top", op: "TopKV2", input: ["pooled", "three"] }]),
    );
    const got = await runOnnx(tfjsGraphToOnnx(withUnrelated, { outputs: OUTPUTS, inputSize: SIDE }), x, n);
    expect(maxAbsDiff(got[0]!, reference[0]!)).toBeLessThan(1e-4);
  });

  it("names an unsupported op and an unknown output", async () => {
    const bad = await artifacts(tinyGraph([{ name: "probs", op: "Softmax", input: ["pooled"] }]));
    expect(() => tfjsGraphToOnnx(bad, { outputs: ["probs"] })).toThrow(
      /unsupported op Softmax; supported: .*Conv2D/,
    );
    expect(() => tfjsGraphToOnnx(art, { outputs: ["nope"] })).toThrow(/no node "nope"/);
  });
});

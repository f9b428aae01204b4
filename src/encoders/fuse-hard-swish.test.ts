import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { OnnxGraphBuilder } from "../core/onnx-builder.js";
import { loadOnnxRuntime } from "../core/onnxruntime.js";
import { mulberry32 } from "../core/rng.js";
import { fuseHardActivations } from "./fuse-hard-swish.js";

const C = 4;
const SIDE = 6;
/** 1/6 as the CenterNet graph stores it (float16), so the fused ops' outputs differ by 6c from the old. */
const SIXTH = 0.1666259765625;

/**
 * A MobileNetV3 block in TF's spelling: a stem conv whose hard-swish also feeds a residual Add (must stay
 * as it is), then a depthwise conv, hard-swish, squeeze-excite with a hard-sigmoid gate, and a projection.
 */
function block(): Uint8Array {
  const random = mulberry32(3);
  const b = new OnnxGraphBuilder();
  const w = (name: string, dims: number[]) =>
    b.floats(
      name,
      Float32Array.from({ length: dims.reduce((a, d) => a * d, 1) }, () => random() - 0.5),
      dims,
    );
  const scalar = (value: number) => b.floats("scalar", Float32Array.of(value), []);
  const conv = (x: string, name: string, group = 1, k = 1) =>
    b.node("Conv", [x, w(`${name}/W`, [C, C / group, k, k]), w(`${name}/B`, [C])], {
      group,
      kernel_shape: [k, k],
      pads: [(k - 1) / 2, (k - 1) / 2, (k - 1) / 2, (k - 1) / 2],
    });
  const relu6 = (x: string) => b.node("Clip", [b.node("Add", [x, scalar(3)]), scalar(0), scalar(6)]);
  const hardSwish = (x: string) => b.node("Mul", [b.node("Mul", [x, scalar(SIXTH)]), relu6(x)]);
  const hardSigmoid = (x: string) => b.node("Mul", [scalar(SIXTH), relu6(x)]);

  const stem = hardSwish(conv("x", "stem"));
  const expanded = hardSwish(conv(stem, "depthwise", C, 3));
  const squeezed = b.node("ReduceMean", [expanded], { axes: [2, 3], keepdims: 1 });
  const gate = hardSigmoid(conv(b.node("Relu", [conv(squeezed, "se1")]), "se2"));
  const projected = conv(b.node("Mul", [expanded, gate]), "project");
  b.node("Add", [projected, stem], {}, "y", true);
  return b.build({
    name: "block",
    opset: 13,
    inputs: [{ name: "x", dims: ["N", C, SIDE, SIDE] }],
    outputs: ["y"],
  });
}

const opTypes = (model: Uint8Array) =>
  (onnxProto.onnx.ModelProto.decode(model).graph?.node ?? []).map((n) => n.opType ?? "").sort();

async function run(model: Uint8Array, x: Float32Array): Promise<Float32Array> {
  const ort = await loadOnnxRuntime();
  const session = await ort.InferenceSession.create(model);
  try {
    const out = await session.run({ x: new ort.Tensor("float32", x, [2, C, SIDE, SIDE]) });
    return out.y!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe("fuseHardActivations", () => {
  it("turns hard-swish and hard-sigmoid into onnxruntime's ops where only convolutions read them", () => {
    const before = block();
    const after = fuseHardActivations(before);
    const count = (ops: string[], op: string) => ops.filter((o) => o === op).length;
    // the stem's hard-swish feeds the residual Add: kept as Mul, Mul, Add, Clip
    expect(count(opTypes(after), "HardSwish")).toBe(1);
    expect(count(opTypes(after), "HardSigmoid")).toBe(1);
    expect(count(opTypes(after), "Clip")).toBe(1);
    expect(opTypes(before).length - opTypes(after).length).toBe(3 + 2); // 4 ops to 1, 3 ops to 1
    expect(Number(onnxProto.onnx.ModelProto.decode(after).opsetImport?.[0]?.version)).toBe(14);
  });

  it("gives the graph's outputs to float rounding (the float16 sixth moved into the weights)", async () => {
    const random = mulberry32(11);
    const x = Float32Array.from({ length: 2 * C * SIDE * SIDE }, () => (random() - 0.5) * 12);
    const [want, got] = [await run(block(), x), await run(fuseHardActivations(block()), x)];
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    const scale = Math.max(...Array.from(want, Math.abs));
    // without the weights' compensation they move by 1.2e-4 of their scale here
    expect(worst / scale).toBeLessThan(1e-5);
  });

  it("leaves a graph without hard activations byte for byte", () => {
    const b = new OnnxGraphBuilder();
    b.node("Relu", ["x"], {}, "y", true);
    const model = b.build({ name: "relu", opset: 13, inputs: [{ name: "x", dims: [2] }], outputs: ["y"] });
    expect(fuseHardActivations(model)).toBe(model);
  });
});

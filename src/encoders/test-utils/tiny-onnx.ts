import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { onnx as OnnxTypes } from "onnx-proto";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

export const SIZE = 8;
export const CH = 4;
export const K = 2; // conv kernel = stride, so the 8x8 input gives a 4x4 grid
export const weights = Float32Array.from({ length: CH * 3 * K * K }, (_, i) => Math.sin(i * 0.7) * 0.5);
export const bias = Float32Array.from({ length: CH }, (_, i) => i * 0.1 - 0.15);

function valueInfo(name: string, dims: (number | string)[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/** conv(k=2, s=2) -> relu -> grid (NCHW); global average pool -> reshape [N, C] -> pooled. */
export function tinyModel(): Uint8Array {
  const graph: OnnxTypes.IGraphProto = {
    name: "tiny",
    input: [valueInfo("pixels", ["N", 3, SIZE, SIZE])],
    output: [valueInfo("grid", ["N", CH, SIZE / K, SIZE / K]), valueInfo("pooled", ["N", CH])],
    initializer: [
      {
        name: "W",
        dims: [CH, 3, K, K],
        dataType: onnx.TensorProto.DataType.FLOAT,
        floatData: Array.from(weights),
      },
      { name: "B", dims: [CH], dataType: onnx.TensorProto.DataType.FLOAT, floatData: Array.from(bias) },
      { name: "shape", dims: [2], dataType: onnx.TensorProto.DataType.INT64, int64Data: [0, -1] },
    ],
    node: [
      {
        opType: "Conv",
        input: ["pixels", "W", "B"],
        output: ["conv"],
        attribute: [
          { name: "kernel_shape", type: onnx.AttributeProto.AttributeType.INTS, ints: [K, K] },
          { name: "strides", type: onnx.AttributeProto.AttributeType.INTS, ints: [K, K] },
        ],
      },
      { opType: "Relu", input: ["conv"], output: ["grid"] },
      { opType: "GlobalAveragePool", input: ["grid"], output: ["gap"] },
      { opType: "Reshape", input: ["gap", "shape"], output: ["pooled"] },
    ],
  };
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: "", version: 13 }],
    producerName: "captionkit-test",
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Writes a folder usable as `onnx:<dir>`: the tiny conv net plus its encoder.json. A fast stand-in
 * for real encoders in tests of code that only needs *an* encoder (feature store, workers).
 */
export async function writeTinyEncoder(dir: string, extra: Record<string, unknown> = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "tiny.onnx"), tinyModel());
  const config = {
    model: "tiny.onnx",
    inputSize: SIZE,
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    layout: "NCHW",
    inputName: "pixels",
    grid: { output: "grid", layout: "NCHW" },
    pooled: { output: "pooled" },
    ...extra,
  };
  await writeFile(path.join(dir, "encoder.json"), JSON.stringify(config));
  return dir;
}

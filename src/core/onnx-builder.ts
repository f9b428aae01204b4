import type { onnx as OnnxTypes } from "onnx-proto";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
const AttrType = onnx.AttributeProto.AttributeType;

/** Attribute values as plain JS: integers, floats, strings and integer lists. */
export type AttrValue = number | string | number[] | { float: number };

function attribute(name: string, value: AttrValue): OnnxTypes.IAttributeProto {
  if (Array.isArray(value)) return { name, type: AttrType.INTS, ints: value };
  if (typeof value === "string") return { name, type: AttrType.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === "number") return { name, type: AttrType.INT, i: value };
  return { name, type: AttrType.FLOAT, f: value.float };
}

/**
 * Accumulates the nodes and initializers of one ONNX graph and serialises it to ModelProto bytes.
 * Names are made unique with a counter so helper nodes (transposes, reshaped constants) never clash
 * with names taken from the source graph.
 */
export class OnnxGraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  private readonly reserved = new Set<string>();
  /** Values renamed by rename(): later nodes reading the old name read the new one. */
  private readonly aliases = new Map<string, string>();

  /** Keeps `names` (the graph's outputs) from being handed out by unique(); see node(..., exact). */
  reserve(names: readonly string[]): void {
    for (const n of names) this.reserved.add(n);
  }

  /** A fresh value name based on `base`. */
  unique(base: string): string {
    let name = base;
    while (this.used.has(name) || this.reserved.has(name)) name = `${base}/_onnx${this.counter++}`;
    this.used.add(name);
    return name;
  }

  /**
   * Adds a node with one output and returns that output's name: a fresh name based on `outName`, or
   * exactly `outName` (a reserved graph output) when `exact` is set.
   */
  node(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    outName?: string,
    exact = false,
  ): string {
    const output =
      exact && outName !== undefined ? outName : this.unique(outName ?? `${inputs[0] ?? opType}/${opType}`);
    this.nodes.push({
      opType,
      name: output,
      input: inputs.map((i) => this.aliases.get(i) ?? i),
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /**
   * Gives the value `from`, made by a node of this graph, the name `to` (a graph output), so no Identity
   * node is needed to expose it. False when no node makes `from` (a graph input or an initializer).
   */
  rename(from: string, to: string): boolean {
    const producer = this.nodes.find((n) => n.output?.includes(from));
    if (!producer || this.aliases.has(from)) return false;
    producer.output = producer.output!.map((o) => (o === from ? to : o));
    for (const n of this.nodes) n.input = n.input?.map((i) => (i === from ? to : i));
    this.aliases.set(from, to);
    this.reserved.add(to);
    return true;
  }

  /** Adds a float32 initializer; returns its name. */
  floats(base: string, data: Float32Array, dims: number[]): string {
    const name = this.unique(base);
    const bytes = new Uint8Array(data.byteLength);
    // ONNX raw_data is little-endian, like every platform Node runs on
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
    return name;
  }

  /** Adds an int64 initializer (shapes, axes); returns its name. */
  int64s(base: string, data: number[]): string {
    const name = this.unique(base);
    this.initializers.push({
      name,
      dims: [data.length],
      dataType: onnx.TensorProto.DataType.INT64,
      int64Data: data,
    });
    return name;
  }

  /**
   * Serialises the graph: float32 inputs (unless an input says int32/int64) and outputs, dims as numbers
   * (fixed) or strings (symbolic).
   */
  build(options: {
    name: string;
    opset: number;
    inputs: { name: string; dims: (number | string)[]; type?: "int32" | "int64" }[];
    outputs: string[];
  }): Uint8Array {
    const { DataType } = onnx.TensorProto;
    const tensorType = (dims?: (number | string)[], type?: "int32" | "int64"): OnnxTypes.ITypeProto => ({
      tensorType: {
        elemType: type === "int32" ? DataType.INT32 : type === "int64" ? DataType.INT64 : DataType.FLOAT,
        shape: dims
          ? { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) }
          : undefined,
      },
    });
    const model = onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: "", version: options.opset }],
      producerName: "captionkit tfjs-to-onnx",
      graph: {
        name: options.name,
        node: this.nodes,
        initializer: this.initializers,
        input: options.inputs.map((i) => ({ name: i.name, type: tensorType(i.dims, i.type) })),
        output: options.outputs.map((name) => ({ name, type: tensorType() })),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

import { OnnxGraphBuilder } from "../../core/onnx-builder.js";
import type { CaptionDecoder } from "../types.js";

/** ONNX opset of the decoder graphs (17: LayerNormalization; reductions still take axes as attributes). */
export const OPSET = 17;

/** A weight as the graphs need it: values and dims. */
export interface WeightValues {
  data: Float32Array;
  dims: number[];
}

/** A decoder's weights by stable name (variables and buffers), read out of tfjs once. */
export function weightsOf(decoder: CaptionDecoder): (name: string) => WeightValues {
  const all = new Map([...decoder.variables, ...(decoder.buffers ?? [])]);
  return (name) => {
    const v = all.get(name);
    if (!v) throw new Error(`onnx graphs: the decoder has no weight ${name}`);
    return { data: v.dataSync() as Float32Array, dims: [...v.shape] };
  };
}

/**
 * The ops the decoder graphs are written in, over OnnxGraphBuilder: each returns its output's name.
 * Dense layers are MatMul + Add, which onnxruntime fuses (Gemm on 2-D inputs).
 */
export class Graph {
  readonly b = new OnnxGraphBuilder();
  /** Where w() reads weights: each ensemble member's fragment sets its own. */
  weight: (name: string) => WeightValues = (name) => {
    throw new Error(`onnx graphs: no weights to read ${name} from`);
  };

  op(type: string, inputs: string[], attrs: Parameters<OnnxGraphBuilder["node"]>[2] = {}): string {
    return this.b.node(type, inputs, attrs);
  }

  /** Writes `value` into the graph output `name`. */
  output(name: string, value: string): void {
    this.b.reserve([name]);
    if (!this.b.rename(value, name)) this.b.node("Identity", [value], {}, name, true);
  }

  /** An initializer from the decoder's weight `name`, optionally reshaped/transposed in JS. */
  w(name: string, transform?: (w: WeightValues) => WeightValues): string {
    const values = transform ? transform(this.weight(name)) : this.weight(name);
    return this.b.floats(name, values.data, values.dims);
  }

  floats(base: string, data: Float32Array, dims: number[]): string {
    return this.b.floats(base, data, dims);
  }

  scalar(value: number): string {
    return this.b.floats("scalar", Float32Array.of(value), []);
  }

  ints(values: number[]): string {
    return this.b.int64s("ints", values);
  }

  dense(x: string, name: string): string {
    return this.op("Add", [this.op("MatMul", [x, this.w(`${name}/kernel`)]), this.w(`${name}/bias`)]);
  }

  layerNorm(x: string, name: string, epsilon = 1e-5): string {
    return this.op("LayerNormalization", [x, this.w(`${name}/gamma`), this.w(`${name}/beta`)], {
      axis: -1,
      epsilon: { float: epsilon },
    });
  }

  reshape(x: string, dims: number[]): string {
    return this.op("Reshape", [x, this.ints(dims)]);
  }

  transpose(x: string, perm: number[]): string {
    return this.op("Transpose", [x], { perm });
  }

  mul(a: string, b: string): string {
    return this.op("Mul", [a, b]);
  }

  add(a: string, b: string): string {
    return this.op("Add", [a, b]);
  }

  /** log of the mean of exp over axis 0 (keepdims 0): the log of the mean probability of several models. */
  logMeanExp(x: string): string {
    const count = this.op("Cast", [this.op("Gather", [this.op("Shape", [x]), this.ints([0])], { axis: 0 })], {
      to: 1, // float
    });
    const max = this.op("ReduceMax", [x], { axes: [0], keepdims: 1 });
    const sum = this.op("ReduceSum", [this.op("Exp", [this.op("Sub", [x, max])]), this.ints([0])], {
      keepdims: 0,
    });
    const squeezedMax = this.op("Squeeze", [max, this.ints([0])]);
    return this.op("Sub", [this.add(this.op("Log", [sum]), squeezedMax), this.op("Log", [count])]);
  }

  build(
    name: string,
    inputs: { name: string; dims: (number | string)[]; type?: "int32" | "int64" }[],
    outputs: string[],
  ): Uint8Array {
    return this.b.build({ name, opset: OPSET, inputs, outputs });
  }
}

/** Dense kernel [in, out] of a 1x1 convolution as an ONNX Conv weight [out, in, 1, 1]. */
export function convKernel(w: WeightValues): WeightValues {
  const [fanIn, fanOut] = w.dims as [number, number];
  const data = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < fanIn; i++)
    for (let o = 0; o < fanOut; o++) data[o * fanIn + i] = w.data[i * fanOut + o]!;
  return { data, dims: [fanOut, fanIn, 1, 1] };
}

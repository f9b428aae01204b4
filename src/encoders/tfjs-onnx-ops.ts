import type { OnnxGraphBuilder } from "../core/onnx-builder.js";
import type { GraphNode } from "./model-loader.js";
import {
  attrBool,
  attrFloat,
  attrInts,
  attrString,
  attrStrings,
  constToNchw,
  depthwiseToOnnx,
  hwioToOihw,
  type TfPadding,
  tfPads,
} from "./tf-attrs.js";

/**
 * A TF tensor as the converter sees it. Constants stay in JS until an op consumes them (a conv filter
 * is transposed, a broadcast operand is laid out for its partner). Image tensors are kept NCHW in the
 * ONNX graph (`nchw`: the TF graph sees [N, H, W, C], ONNX holds [N, C, H, W]) with their spatial size
 * when known; everything else (`plain`) has the TF layout as is.
 */
export type TfValue =
  | { kind: "const"; name: string; data: Float32Array | Int32Array; shape: number[] }
  | { kind: "nchw"; name: string; spatial?: [number, number] }
  | { kind: "plain"; name: string };

export interface OpContext {
  b: OnnxGraphBuilder;
  node: GraphNode;
  inputs: TfValue[];
  /** ONNX value of an NCHW tensor in NHWC order (cached: several consumers share one Transpose). */
  toNhwc: (v: Extract<TfValue, { kind: "nchw" }>) => string;
}

export type OpHandler = (ctx: OpContext) => TfValue;

// NHWC axis -> the same axis in NCHW
const NCHW_AXIS = [0, 2, 3, 1];

function fail(node: GraphNode, why: string): never {
  throw new Error(`tfjs-to-onnx: node "${node.name}" (${node.op}): ${why}`);
}

function floatConst(ctx: OpContext, v: TfValue | undefined, what: string): Float32Array {
  if (v?.kind !== "const" || !(v.data instanceof Float32Array))
    fail(ctx.node, `${what} must be a float32 constant`);
  return v.data;
}

function intConst(ctx: OpContext, v: TfValue | undefined, what: string): number[] {
  if (v?.kind !== "const") fail(ctx.node, `${what} must be a constant`);
  return Array.from(v.data, Number);
}

/** An ONNX value in the TF layout (NHWC for image tensors). */
function plainName(ctx: OpContext, v: TfValue): string {
  if (v.kind === "nchw") return ctx.toNhwc(v);
  if (v.kind === "plain") return v.name;
  if (!(v.data instanceof Float32Array)) fail(ctx.node, `int32 constant "${v.name}" used as data`);
  return ctx.b.floats(v.name, v.data, v.shape);
}

/** An image tensor as NCHW (a plain 4-D NHWC value is transposed). */
function asNchw(ctx: OpContext, v: TfValue): Extract<TfValue, { kind: "nchw" }> {
  if (v.kind === "nchw") return v;
  if (v.kind === "const") fail(ctx.node, "a constant image input is not supported");
  return { kind: "nchw", name: ctx.b.node("Transpose", [v.name], { perm: [0, 3, 1, 2] }) };
}

function dataFormatNhwc(ctx: OpContext): void {
  const format = attrString(ctx.node, "data_format");
  if (format !== undefined && format !== "NHWC") fail(ctx.node, `data_format ${format} is not supported`);
}

function activation(ctx: OpContext, x: string, op: string | undefined): string {
  const b = ctx.b;
  switch (op) {
    case undefined:
      return x;
    case "Relu":
    case "Sigmoid":
    case "Tanh":
    case "Elu":
      return b.node(op, [x], {}, ctx.node.name);
    case "Relu6":
      return b.node(
        "Clip",
        [x, b.floats("relu6/min", Float32Array.of(0), []), b.floats("relu6/max", Float32Array.of(6), [])],
        {},
        ctx.node.name,
      );
    case "LeakyRelu":
      return b.node(
        "LeakyRelu",
        [x],
        { alpha: { float: attrFloat(ctx.node, "leakyrelu_alpha") ?? 0.2 } },
        ctx.node.name,
      );
    default:
      return fail(ctx.node, `fused activation ${op} is not supported`);
  }
}

function unary(onnxOp: string): OpHandler {
  return (ctx) => {
    const x = ctx.inputs[0]!;
    if (x.kind === "const") fail(ctx.node, "constant folding is not supported");
    const name = activation(ctx, x.name, onnxOp);
    return x.kind === "nchw" ? { kind: "nchw", name, spatial: x.spatial } : { kind: "plain", name };
  };
}

/** Element-wise ops with TF broadcasting; constants are laid out to match an NCHW partner. */
function binary(onnxOp: string): OpHandler {
  return (ctx) => {
    const [a, c] = ctx.inputs as [TfValue, TfValue];
    if (ctx.node.op === "BiasAdd") dataFormatNhwc(ctx);
    if (a.kind === "const" && c.kind === "const") fail(ctx.node, "constant folding is not supported");
    const values = [a, c].filter((v) => v.kind !== "const");
    if (values.every((v) => v.kind === "nchw")) {
      const spatial = values
        .map((v) => (v.kind === "nchw" ? v.spatial : undefined))
        .reduce<[number, number] | undefined>(
          (s, t) => (s && t ? [Math.max(s[0], t[0]), Math.max(s[1], t[1])] : (s ?? t)),
          undefined,
        );
      const names = [a, c].map((v) => {
        if (v.kind !== "const") return v.name;
        if (!(v.data instanceof Float32Array)) fail(ctx.node, `int32 constant "${v.name}" used as data`);
        const { data, dims } = constToNchw(v.data, v.shape);
        return ctx.b.floats(v.name, data, dims);
      });
      return { kind: "nchw", name: ctx.b.node(onnxOp, names, {}, ctx.node.name), spatial };
    }
    // mixed layouts: do the op in TF's layout
    return {
      kind: "plain",
      name: ctx.b.node(onnxOp, [plainName(ctx, a), plainName(ctx, c)], {}, ctx.node.name),
    };
  };
}

function relu6(ctx: OpContext): TfValue {
  const x = ctx.inputs[0]!;
  if (x.kind === "const") fail(ctx.node, "constant folding is not supported");
  const name = activation(ctx, x.name, "Relu6");
  return x.kind === "nchw" ? { kind: "nchw", name, spatial: x.spatial } : { kind: "plain", name };
}

/** Spatial params [h, w] of an NHWC attribute list such as strides [1, sh, sw, 1]. */
function hw(ctx: OpContext, key: string): [number, number] {
  const v = attrInts(ctx.node, key) ?? [1, 1, 1, 1];
  if (v.length !== 4 || v[0] !== 1 || v[3] !== 1)
    fail(ctx.node, `${key} ${JSON.stringify(v)} is not supported`);
  return [v[1]!, v[2]!];
}

function padding(ctx: OpContext): TfPadding {
  const p = attrString(ctx.node, "padding") ?? "VALID";
  if (p !== "SAME" && p !== "VALID" && p !== "EXPLICIT") fail(ctx.node, `padding ${p} is not supported`);
  return p;
}

/** ONNX pad attributes; with an unknown input size, auto_pad SAME_UPPER (TF's SAME rule). */
function padAttrs(
  ctx: OpContext,
  x: Extract<TfValue, { kind: "nchw" }>,
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number],
): { attrs: { pads: number[] } | { auto_pad: string }; spatial?: [number, number] } {
  const pad = padding(ctx);
  const explicit = attrInts(ctx.node, "explicit_paddings") ?? [];
  if (x.spatial) {
    const { pads, out } = tfPads(x.spatial, kernel, strides, dilations, pad, explicit);
    return { attrs: { pads }, spatial: out };
  }
  if (pad === "SAME") return { attrs: { auto_pad: "SAME_UPPER" } };
  if (pad === "VALID") return { attrs: { auto_pad: "VALID" } };
  return { attrs: { pads: [explicit[2] ?? 0, explicit[4] ?? 0, explicit[3] ?? 0, explicit[5] ?? 0] } };
}

/** Conv2D / DepthwiseConv2dNative and their fused forms (BiasAdd + optional activation). */
function conv(depthwise: boolean): OpHandler {
  return (ctx) => {
    dataFormatNhwc(ctx);
    const x = asNchw(ctx, ctx.inputs[0]!);
    const filterValue = ctx.inputs[1];
    const filter = floatConst(ctx, filterValue, "the filter");
    const shape = (filterValue as Extract<TfValue, { kind: "const" }>).shape;
    if (shape.length !== 4) fail(ctx.node, `filter of shape ${JSON.stringify(shape)} is not 4-D`);
    const [kh, kw, ci, co] = shape as [number, number, number, number];
    const strides = hw(ctx, "strides");
    const dilations = hw(ctx, "dilations");
    const { attrs: padAttr, spatial } = padAttrs(ctx, x, [kh, kw], strides, dilations);
    const weight = depthwise
      ? ctx.b.floats(`${ctx.node.name}/W`, depthwiseToOnnx(filter, shape), [ci * co, 1, kh, kw])
      : ctx.b.floats(`${ctx.node.name}/W`, hwioToOihw(filter, shape), [co, ci, kh, kw]);
    const inputs = [x.name, weight];
    const fused = attrStrings(ctx.node, "fused_ops");
    let act: string | undefined;
    if (fused.length > 0) {
      if (fused[0] !== "BiasAdd")
        fail(ctx.node, `fused op ${fused[0]} is not supported (only BiasAdd + activation)`);
      if (fused.length > 2) fail(ctx.node, `fused ops ${fused.join("+")} are not supported`);
      const bias = floatConst(ctx, ctx.inputs[2], "the bias");
      inputs.push(ctx.b.floats(`${ctx.node.name}/B`, bias, [bias.length]));
      act = fused[1];
    }
    const out = ctx.b.node(
      "Conv",
      inputs,
      {
        kernel_shape: [kh, kw],
        strides,
        dilations,
        group: depthwise ? ci : 1,
        ...padAttr,
      },
      act ? `${ctx.node.name}/conv` : ctx.node.name,
    );
    return { kind: "nchw", name: activation(ctx, out, act), spatial };
  };
}

function pool(onnxOp: "AveragePool" | "MaxPool"): OpHandler {
  return (ctx) => {
    dataFormatNhwc(ctx);
    const x = asNchw(ctx, ctx.inputs[0]!);
    const kernel = hw(ctx, "ksize");
    const strides = hw(ctx, "strides");
    const { attrs: padAttr, spatial } = padAttrs(ctx, x, kernel, strides, [1, 1]);
    // TF's SAME average pool divides by the number of real pixels: count_include_pad = 0 (the default)
    const name = ctx.b.node(onnxOp, [x.name], { kernel_shape: kernel, strides, ...padAttr }, ctx.node.name);
    return { kind: "nchw", name, spatial };
  };
}

/**
 * Dropping axes of an NCHW tensor leaves the TF (NHWC) order only when the channel axis does not
 * remain together with a spatial axis; returns the NCHW axes to drop, or undefined if it does not.
 */
function nchwAxesKeepingOrder(axes: number[]): number[] | undefined {
  const norm = axes.map((a) => (a < 0 ? a + 4 : a));
  const remaining = [0, 1, 2, 3].filter((a) => !norm.includes(a));
  if (remaining.includes(3) && (remaining.includes(1) || remaining.includes(2))) return undefined;
  return norm.map((a) => NCHW_AXIS[a]!).sort();
}

function mean(ctx: OpContext): TfValue {
  const x = ctx.inputs[0]!;
  if (x.kind === "const") fail(ctx.node, "constant folding is not supported");
  const axes = intConst(ctx, ctx.inputs[1], "the reduction axes");
  const keep = attrBool(ctx.node, "keep_dims") ?? false;
  if (x.kind === "nchw") {
    const norm = axes.map((a) => (a < 0 ? a + 4 : a));
    if (keep) {
      const name = ctx.b.node(
        "ReduceMean",
        [x.name],
        { axes: norm.map((a) => NCHW_AXIS[a]!), keepdims: 1 },
        ctx.node.name,
      );
      const spatial: [number, number] | undefined = x.spatial && [
        norm.includes(1) ? 1 : x.spatial[0],
        norm.includes(2) ? 1 : x.spatial[1],
      ];
      return { kind: "nchw", name, spatial };
    }
    const direct = nchwAxesKeepingOrder(axes);
    if (direct)
      return {
        kind: "plain",
        name: ctx.b.node("ReduceMean", [x.name], { axes: direct, keepdims: 0 }, ctx.node.name),
      };
  }
  const name = ctx.b.node("ReduceMean", [plainName(ctx, x)], { axes, keepdims: keep ? 1 : 0 }, ctx.node.name);
  return { kind: "plain", name };
}

function squeeze(ctx: OpContext): TfValue {
  const x = ctx.inputs[0]!;
  if (x.kind === "const") fail(ctx.node, "constant folding is not supported");
  const axes = attrInts(ctx.node, "squeeze_dims") ?? attrInts(ctx.node, "axis") ?? [];
  if (axes.length === 0) fail(ctx.node, "squeezing every size-1 axis (no squeeze_dims) is not supported");
  const direct = x.kind === "nchw" ? nchwAxesKeepingOrder(axes) : undefined;
  const [input, onnxAxes] = direct ? [x.name, direct] : [plainName(ctx, x), axes];
  return {
    kind: "plain",
    name: ctx.b.node("Squeeze", [input, ctx.b.int64s(`${ctx.node.name}/axes`, onnxAxes)], {}, ctx.node.name),
  };
}

/** Supported TF ops -> their converters (Placeholder and Const are handled by the caller). */
export const OP_HANDLERS: Readonly<Record<string, OpHandler>> = Object.freeze({
  Identity: (ctx) => ctx.inputs[0]!,
  Relu: unary("Relu"),
  Relu6: relu6,
  Sigmoid: unary("Sigmoid"),
  Tanh: unary("Tanh"),
  Elu: unary("Elu"),
  Add: binary("Add"),
  AddV2: binary("Add"),
  BiasAdd: binary("Add"),
  Sub: binary("Sub"),
  Mul: binary("Mul"),
  RealDiv: binary("Div"),
  Maximum: binary("Max"),
  Minimum: binary("Min"),
  Conv2D: conv(false),
  _FusedConv2D: conv(false),
  DepthwiseConv2dNative: conv(true),
  FusedDepthwiseConv2dNative: conv(true),
  AvgPool: pool("AveragePool"),
  MaxPool: pool("MaxPool"),
  Mean: mean,
  Squeeze: squeeze,
});

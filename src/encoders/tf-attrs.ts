import type { GraphNode } from "./model-loader.js";

/**
 * Readers for the attributes of a tfjs-converter graph node (the JSON form of TF's NodeDef.attr):
 * integers are decimal strings, strings are base64, lists sit under `list`.
 */
interface AttrJson {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  list?: { i?: (string | number)[]; s?: string[]; f?: number[] };
}

function attr(node: GraphNode, key: string): AttrJson | undefined {
  return node.attr?.[key] as AttrJson | undefined;
}

export function attrInts(node: GraphNode, key: string): number[] | undefined {
  const list = attr(node, key)?.list;
  if (!list) return undefined;
  return (list.i ?? []).map(Number);
}

export function attrString(node: GraphNode, key: string): string | undefined {
  const s = attr(node, key)?.s;
  return s === undefined ? undefined : Buffer.from(s, "base64").toString("utf8");
}

export function attrStrings(node: GraphNode, key: string): string[] {
  return (attr(node, key)?.list?.s ?? []).map((s) => Buffer.from(s, "base64").toString("utf8"));
}

export function attrBool(node: GraphNode, key: string): boolean | undefined {
  return attr(node, key)?.b;
}

export function attrFloat(node: GraphNode, key: string): number | undefined {
  return attr(node, key)?.f;
}

/** Visits a row-major 4-D array in order, writing each value where `target(a, b, c, d)` says. */
function reorder4(
  w: Float32Array,
  shape: readonly number[],
  target: (a: number, b: number, c: number, d: number) => number,
): Float32Array {
  const [n0, n1, n2, n3] = shape as [number, number, number, number];
  const out = new Float32Array(w.length);
  let k = 0;
  for (let a = 0; a < n0; a++)
    for (let b = 0; b < n1; b++)
      for (let c = 0; c < n2; c++) for (let d = 0; d < n3; d++) out[target(a, b, c, d)] = w[k++]!;
  return out;
}

/** Conv filter, TF [kh, kw, in, out] (HWIO) -> ONNX [out, in, kh, kw] (OIHW). */
export function hwioToOihw(w: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, ci] = shape as [number, number, number, number];
  return reorder4(w, shape, (y, x, i, o) => ((o * ci + i) * kh + y) * kw + x);
}

/**
 * Depthwise filter, TF [kh, kw, C, M] -> ONNX grouped conv [C*M, 1, kh, kw] with group = C. TF orders
 * the depthwise output channels c*M + m, which is also the order of ONNX's groups.
 */
export function depthwiseToOnnx(w: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, , m] = shape as [number, number, number, number];
  return reorder4(w, shape, (y, x, ch, k) => ((ch * m + k) * kh + y) * kw + x);
}

/** A constant of rank <= 4 laid out for NHWC broadcasting -> the same constant for NCHW, with its dims. */
export function constToNchw(
  data: Float32Array,
  shape: readonly number[],
): { data: Float32Array; dims: number[] } {
  if (shape.length === 0) return { data, dims: [] };
  if (shape.length > 4)
    throw new Error(`cannot broadcast a rank-${shape.length} constant against an image tensor`);
  const [n, h, w, c] = [...Array<number>(4 - shape.length).fill(1), ...shape] as [
    number,
    number,
    number,
    number,
  ];
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++)
          out[((b * c + ch) * h + y) * w + x] = data[((b * h + y) * w + x) * c + ch]!;
  return { data: out, dims: [n, c, h, w] };
}

export type TfPadding = "SAME" | "VALID" | "EXPLICIT";

/**
 * ONNX pads [top, left, bottom, right] for a TF convolution or pool over a known input size, and the
 * output size. TF "SAME" puts the odd pixel of padding at the end (bottom/right) and never pads
 * negatively, e.g. a 1x1 kernel at stride 2.
 */
export function tfPads(
  input: readonly [number, number],
  kernel: readonly [number, number],
  strides: readonly [number, number],
  dilations: readonly [number, number],
  padding: TfPadding,
  explicit: readonly number[] = [],
): { pads: number[]; out: [number, number] } {
  const before: number[] = [];
  const after: number[] = [];
  const out: number[] = [];
  for (let d = 0; d < 2; d++) {
    const size = input[d]!;
    const k = (kernel[d]! - 1) * dilations[d]! + 1;
    const s = strides[d]!;
    if (padding === "SAME") {
      const o = Math.ceil(size / s);
      const total = Math.max((o - 1) * s + k - size, 0);
      before.push(Math.floor(total / 2));
      after.push(total - Math.floor(total / 2));
      out.push(o);
    } else if (padding === "VALID") {
      before.push(0);
      after.push(0);
      out.push(Math.floor((size - k) / s) + 1);
    } else {
      // explicit_paddings: [before, after] per NHWC dim; H is dim 1, W dim 2
      const pb = explicit[2 + 2 * d] ?? 0;
      const pa = explicit[3 + 2 * d] ?? 0;
      before.push(pb);
      after.push(pa);
      out.push(Math.floor((size + pb + pa - k) / s) + 1);
    }
  }
  return { pads: [...before, ...after], out: out as [number, number] };
}

import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { overrideWasmKernel, type WasmKernel } from "./wasm-kernel.js";

/*
 * The tfjs 4.22 wasm Slice kernel starts with `backend.readSync(x)`, which copies the whole input out of
 * the wasm heap before taking the slice; Unpack and SplitV call it once per output. Unstacking a
 * teacher-forced pass's [16, 32, 2048] gates into 16 steps copied 64 MB (35 ms, and 82 ms along the
 * middle axis), and splitting a [32, 4352] product in three cost 1.8 ms. These kernels copy only the
 * slice, straight from a view of the heap: the same values, one pass over the output.
 */

type Heap = Float32Array | Int32Array | Uint8Array;

/** Copies x[begin : begin + size] (row-major, any rank) into out, one contiguous run at a time. */
function copySlice(
  x: Heap,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: Heap,
): void {
  const rank = shape.length;
  if (rank === 0) {
    out.set(x.subarray(0, 1));
    return;
  }
  // The run: the innermost axes taken whole, plus the first axis outside them that is not.
  let inner = rank - 1;
  while (inner > 0 && size[inner] === shape[inner]) inner--;
  const strides = tf.util.computeStrides([...shape]);
  const stride = (axis: number) => (axis === rank - 1 ? 1 : (strides[axis] as number));
  const run = (size[inner] as number) * stride(inner);
  const outer = size.slice(0, inner);
  const outerCount = outer.reduce((p, s) => p * s, 1);
  const index = new Array<number>(inner).fill(0);
  let from = begin.reduce((offset, b, axis) => offset + b * stride(axis), 0);
  for (let o = 0, to = 0; o < outerCount; o++, to += run) {
    out.set(x.subarray(from, from + run), to);
    // next outer index, odometer style
    for (let axis = inner - 1; axis >= 0; axis--) {
      from += stride(axis);
      if (++(index[axis] as number) < (outer[axis] as number)) break;
      from -= (outer[axis] as number) * stride(axis);
      index[axis] = 0;
    }
  }
}

function sliceOf(backend: BackendWasm, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (size.some((s) => s === 0)) return out;
  // Views after makeOutput: allocating may grow (and detach) the wasm heap.
  copySlice(
    backend.typedArrayFromHeap(x) as Heap,
    x.shape,
    begin,
    size,
    backend.typedArrayFromHeap(out) as Heap,
  );
  return out;
}

const kernels: Record<string, WasmKernel> = {
  Slice: ({ inputs, backend, attrs }) => {
    const x = inputs.x as tf.TensorInfo;
    const [begin, size] = tf.slice_util.parseSliceParams(
      x as tf.Tensor,
      attrs?.begin as number[],
      attrs?.size as number[],
    );
    return sliceOf(backend, x, begin, size);
  },
  Unpack: ({ inputs, backend, attrs }) => {
    const x = inputs.value as tf.TensorInfo;
    const axis = tf.util.parseAxisParam(attrs?.axis as number, x.shape)[0] as number;
    const size = [...x.shape];
    size[axis] = 1;
    const shape = x.shape.filter((_, i) => i !== axis);
    return Array.from({ length: x.shape[axis] as number }, (_, i) => {
      const begin = x.shape.map((_, a) => (a === axis ? i : 0));
      return { ...sliceOf(backend, x, begin, size), shape };
    });
  },
  SplitV: ({ inputs, backend, attrs }) => {
    const x = inputs.x as tf.TensorInfo;
    const axis = tf.util.parseAxisParam(attrs?.axis as number, x.shape)[0] as number;
    const sizes = tf.backend_util.prepareSplitSize(
      x as tf.Tensor,
      attrs?.numOrSizeSplits as number[] | number,
      axis,
    );
    const begin = x.shape.map(() => 0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[axis] = s;
      const part = sliceOf(backend, x, begin, size);
      begin[axis] = (begin[axis] as number) + s;
      return part;
    });
  },
};

/** Replaces the wasm Slice, Unpack and SplitV kernels (strings keep the originals). */
export function registerHeapSlices(): void {
  for (const [name, kernel] of Object.entries(kernels)) {
    overrideWasmKernel(name, (originalFunc) => (args) => {
      const x = (args.inputs.x ?? args.inputs.value) as tf.TensorInfo;
      return x.dtype === "string" ? originalFunc(args) : kernel(args);
    });
  }
}

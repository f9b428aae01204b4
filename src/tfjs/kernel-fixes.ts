import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-wasm";
import { nativeSwapLastTwo, registerNativeElementwise } from "./native-elementwise.js";
import { nativeBatchMatMul } from "./native-matmul.js";
import { registerHeapSlices } from "./slice-kernels.js";
import { type KernelArgs, overrideWasmKernel, type WasmKernel } from "./wasm-kernel.js";

/**
 * Two gaps of the tfjs 4.22 wasm backend that break or cripple decoder training, patched in place:
 *
 * (a) There is no wasm UnsortedSegmentSum kernel, and the gradient of gather (every embedding lookup) is
 *     written with it, so `tf.grad` through `tf.gather` throws on wasm. We register one computed in JS on
 *     the wasm heap (a single pass over the rows: memory-bound, so JS is as fast as C would be here).
 * (b) The wasm BatchMatMul kernel with transposeA/transposeB is 10-50x slower than the plain product, and
 *     the matMul gradient always asks for a transposed operand (dA = dY·Bᵀ, dB = Aᵀ·dY). We wrap the
 *     BatchMatMul and _FusedMatMul kernels so a transposed operand is transposed explicitly (a cheap copy)
 *     and the plain fast path does the product. This fixes the gradient and forward uses alike
 *     (attention scores Q·Kᵀ) without touching the gradient definitions.
 *
 * (c) The wasm Gather kernel indexes element by element: gathering beam-search state ([12, 49, 1792])
 *     took ~60 ms. We re-register GatherV2 to copy whole contiguous slices (a memcpy per index).
 *
 * (d) The wasm Identity kernel copies its input. tfjs clones (Identity) every tensor it saves for the
 *     backward pass, so each recurrent step copied the LSTM weights (14 MB for [1792, 2048]) and the
 *     copies defeated (b)'s cache. We share the buffer with a reference count instead, as the cpu
 *     backend does (tfjs tensors are immutable, so sharing is safe).
 *
 * (e) Products of more than a few hundred thousand multiply-adds go to onnxruntime-node instead, when
 *     initBackend("wasm") could load it (native-matmul.ts); (b) serves the smaller ones.
 *
 * (f) Slice, Unpack and SplitV copied their whole input before slicing it (slice-kernels.ts).
 *
 * (g) A Sum over the first axis of a matrix (every bias gradient: the sum of dy over the batch's rows),
 *     or over the middle axis of a batch of them (attention's gradient over the regions), makes the wasm
 *     kernel transpose first: 11 ms for [512, 4352]. With native products on, it is ones[1, rows]·x.
 *
 * (h) With native products on, large Exp and Tanh, and the transposed copies of (b), run on onnxruntime
 *     too (native-elementwise.ts); Sigmoid stays, wasm's is faster.
 *
 * Idempotent; safe to call before or after `initBackend()`.
 */
export function applyWasmKernelFixes(): void {
  if (applied) return;
  applied = true;
  registerUnsortedSegmentSum();
  wrapTransposedMatMul("BatchMatMul");
  wrapTransposedMatMul("_FusedMatMul");
  registerSliceGather();
  registerSharedIdentity();
  registerHeapSlices();
  wrapLeadingAxisSum();
  registerNativeElementwise();
}

let applied = false;

function registerUnsortedSegmentSum(): void {
  if (tf.getKernel("UnsortedSegmentSum", "wasm")) return;
  const kernelFunc: WasmKernel = ({ inputs, backend, attrs }) => {
    const x = inputs.x as tf.TensorInfo;
    const segmentIds = inputs.segmentIds as tf.TensorInfo;
    const numSegments = attrs?.numSegments as number;
    // x: [n, ...inner] with segmentIds: [n] (the only layout tf.unsortedSegmentSum produces after its
    // own reshapes in the gather gradient); output: [numSegments, ...inner], summed in place on the heap
    // (a JS array and its copy in took 12-18 ms a step for the [2533, 512] embedding gradient).
    const out = backend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
    // Views after makeOutput: allocating may grow (and detach) the wasm heap.
    const values = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
    const ids = backend.typedArrayFromHeap(segmentIds) as Int32Array;
    const sums = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
    sums.fill(0);
    const inner = ids.length === 0 ? 0 : values.length / ids.length;
    for (let row = 0; row < ids.length; row++) {
      const segment = ids[row] as number;
      if (segment < 0 || segment >= numSegments) continue; // tf semantics: out-of-range ids are dropped
      const src = row * inner;
      const dst = segment * inner;
      for (let k = 0; k < inner; k++) sums[dst + k] = (sums[dst + k] as number) + (values[src + k] as number);
    }
    return out;
  };
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  });
}

/**
 * Swaps the last two axes of x into a new heap buffer. A cache-blocked JS loop: the wasm Transpose kernel
 * walks the output with generic index arithmetic and measured 2.5x slower than this on [1792, 2048].
 */
export function swapLastTwo(x: tf.TensorInfo, backend: BackendWasm): tf.TensorInfo {
  const native = nativeSwapLastTwo(backend, x);
  if (native) return native;
  const rank = x.shape.length;
  const rows = x.shape[rank - 2] as number;
  const cols = x.shape[rank - 1] as number;
  const outShape = [...x.shape.slice(0, -2), cols, rows];
  const out = backend.makeOutput(outShape, x.dtype);
  // Views taken after makeOutput: allocating may grow (and detach) the wasm heap.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const block = 32;
  const matrix = rows * cols;
  for (let offset = 0; offset < src.length; offset += matrix) {
    for (let i0 = 0; i0 < rows; i0 += block) {
      const i1 = Math.min(i0 + block, rows);
      for (let j0 = 0; j0 < cols; j0 += block) {
        const j1 = Math.min(j0 + block, cols);
        for (let i = i0; i < i1; i++) {
          const from = offset + i * cols;
          for (let j = j0; j < j1; j++) dst[offset + j * rows + i] = src[from + j] as number;
        }
      }
    }
  }
  return out;
}

/**
 * Transposed copies of large operands, reused while the source is alive. Backpropagation through time
 * asks for Wᵀ of the same weight at every step (and for the same image grid at every attention step);
 * tfjs data is immutable per dataId (a variable's assign gets a new dataId), so a copy stays valid for as
 * long as its source dataId is registered with the backend. Only operands seen before are cached, so
 * one-off activations do not evict the weights (plain LRU thrashed: ~7 large operands per LSTM step).
 */
const CACHE_MIN_SIZE = 1 << 17;
const CACHE_MAX_ENTRIES = 12;
const CACHE_MAX_VALUES = 1 << 25; // 128 MB of float32
/** Keyed by source dataId and shape: reshapes share a dataId, and a transpose depends on the shape. */
const transposeCache = new Map<string, { source: object; copy: tf.TensorInfo }>();
const dataIdNumbers = new WeakMap<object, number>();
let nextDataIdNumber = 0;
let seenOnce = new Set<string>();

function sizeOf(x: tf.TensorInfo): number {
  return x.shape.reduce((a, b) => a * b, 1);
}

function cacheKey(x: tf.TensorInfo): string {
  let id = dataIdNumbers.get(x.dataId);
  if (id === undefined) {
    id = nextDataIdNumber++;
    dataIdNumbers.set(x.dataId, id);
  }
  return `${id}:${x.shape.join("x")}`;
}

function transposed(x: tf.TensorInfo, backend: BackendWasm): { info: tf.TensorInfo; owned: boolean } {
  const size = sizeOf(x);
  if (size < CACHE_MIN_SIZE || size > CACHE_MAX_VALUES / 4)
    return { info: swapLastTwo(x, backend), owned: true };
  for (const [key, entry] of transposeCache) {
    if (!backend.dataIdMap.has(entry.source)) {
      backend.disposeData(entry.copy.dataId);
      transposeCache.delete(key);
    }
  }
  const key = cacheKey(x);
  const hit = transposeCache.get(key);
  if (hit) {
    transposeCache.delete(key); // re-insert: most recently used last
    transposeCache.set(key, hit);
    return { info: hit.copy, owned: false };
  }
  if (!seenOnce.has(key)) {
    if (seenOnce.size > 100_000) seenOnce = new Set();
    seenOnce.add(key);
    return { info: swapLastTwo(x, backend), owned: true };
  }
  const copy = swapLastTwo(x, backend);
  transposeCache.set(key, { source: x.dataId, copy });
  let total = 0;
  for (const entry of transposeCache.values()) total += sizeOf(entry.copy);
  while (transposeCache.size > CACHE_MAX_ENTRIES || total > CACHE_MAX_VALUES) {
    const [oldest, stale] = transposeCache.entries().next().value as [string, { copy: tf.TensorInfo }];
    total -= sizeOf(stale.copy);
    backend.disposeData(stale.copy.dataId);
    transposeCache.delete(oldest);
  }
  return { info: copy, owned: false };
}

/**
 * The cached transposed copy of x when x is an operand used before (a weight at every time step), made
 * on its second use as transposed() does; undefined on the first (or when x is too small or too large).
 */
function reusedTranspose(x: tf.TensorInfo, backend: BackendWasm): tf.TensorInfo | undefined {
  const size = sizeOf(x);
  if (size < CACHE_MIN_SIZE || size > CACHE_MAX_VALUES / 4) return undefined;
  const key = cacheKey(x);
  if (!transposeCache.has(key) && !seenOnce.has(key)) {
    seenOnce.add(key);
    return undefined;
  }
  const { info, owned } = transposed(x, backend);
  if (!owned) return info;
  backend.disposeData(info.dataId);
  return undefined;
}

function wrapLeadingAxisSum(): void {
  overrideWasmKernel("Sum", (originalFunc) => (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x as tf.TensorInfo;
    const axes = tf.util.parseAxisParam(attrs?.axis as number | number[], x.shape);
    const rank = x.shape.length;
    // the second-to-last axis of a matrix, or of a batch of matrices (attention: over the regions)
    if (x.dtype !== "float32" || (rank !== 2 && rank !== 3) || axes.length !== 1 || axes[0] !== rank - 2)
      return originalFunc(args);
    const rows = x.shape[rank - 2] as number;
    const ones = backend.makeOutput(rank === 2 ? [1, rows] : [1, 1, rows], "float32");
    (backend.typedArrayFromHeap(ones) as Float32Array).fill(1);
    try {
      const y = nativeBatchMatMul(backend, ones, x, false, false);
      if (!y) return originalFunc(args);
      const shape = [...x.shape];
      if (attrs?.keepDims) shape[rank - 2] = 1;
      else shape.splice(rank - 2, 1);
      return { ...y, shape };
    } finally {
      backend.disposeData(ones.dataId);
    }
  });
}

/** Frees the cached transposed copies (they are also freed as their sources are disposed). */
export function clearTransposeCache(): void {
  const backend = tf.findBackend("wasm") as BackendWasm | null;
  for (const entry of transposeCache.values()) backend?.disposeData(entry.copy.dataId);
  transposeCache.clear();
  seenOnce = new Set<string>();
}

/** tfjs fused activations and the wasm kernels that compute them after a native product. */
const ACTIVATION_KERNELS: Record<string, string> = {
  relu: "Relu",
  relu6: "Relu6",
  elu: "Elu",
  sigmoid: "Sigmoid",
  leakyrelu: "LeakyRelu",
  prelu: "Prelu",
};

/** _FusedMatMul's bias and activation applied to a product y (y is consumed). */
function fusedEpilogue(y: tf.TensorInfo, args: KernelArgs): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  let out = y;
  const apply = (kernelName: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs?: tf.NamedAttrMap) => {
    const kernel = tf.getKernel(kernelName, "wasm")?.kernelFunc as unknown as WasmKernel;
    const next = kernel({ inputs: kernelInputs, backend, attrs: kernelAttrs }) as tf.TensorInfo;
    backend.disposeData(out.dataId);
    out = next;
  };
  if (inputs.bias) apply("Add", { a: out, b: inputs.bias as tf.TensorInfo });
  const activation = attrs?.activation as string | undefined;
  if (activation === "leakyrelu") apply("LeakyRelu", { x: out }, { alpha: attrs?.leakyreluAlpha as number });
  else if (activation === "prelu")
    apply("Prelu", { x: out, alpha: inputs.preluActivationWeights as tf.TensorInfo });
  else if (activation && activation !== "linear") apply(ACTIVATION_KERNELS[activation] as string, { x: out });
  return out;
}

function wrapTransposedMatMul(kernelName: "BatchMatMul" | "_FusedMatMul"): void {
  overrideWasmKernel(kernelName, (originalFunc) => (args) => {
    const { inputs, backend, attrs } = args;
    const transposeA = attrs?.transposeA === true;
    const transposeB = attrs?.transposeB === true;
    const activation = attrs?.activation as string | undefined;
    if (activation === undefined || activation === "linear" || activation in ACTIVATION_KERNELS) {
      const a = inputs.a as tf.TensorInfo;
      const b = inputs.b as tf.TensorInfo;
      const y = nativeBatchMatMul(backend, a, b, transposeA, transposeB, (x) => reusedTranspose(x, backend));
      if (y) return kernelName === "_FusedMatMul" ? fusedEpilogue(y, args) : y;
    }
    if (!transposeA && !transposeB) return originalFunc(args);
    const a = transposeA ? transposed(inputs.a as tf.TensorInfo, backend) : undefined;
    const b = transposeB ? transposed(inputs.b as tf.TensorInfo, backend) : undefined;
    try {
      return originalFunc({
        inputs: {
          ...inputs,
          a: a?.info ?? (inputs.a as tf.TensorInfo),
          b: b?.info ?? (inputs.b as tf.TensorInfo),
        },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
    } finally {
      if (a?.owned) backend.disposeData(a.info.dataId);
      if (b?.owned) backend.disposeData(b.info.dataId);
    }
  });
}

function registerSliceGather(): void {
  overrideWasmKernel("GatherV2", (originalFunc) => (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x as tf.TensorInfo;
    if (x.dtype === "string") return originalFunc(args);
    const indices = inputs.indices as tf.TensorInfo;
    const axis = tf.util.parseAxisParam(attrs?.axis as number, x.shape)[0] as number;
    const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(
      x as tf.Tensor,
      indices as tf.Tensor,
      axis,
      (attrs?.batchDims as number | undefined) ?? 0,
    );
    const out = backend.makeOutput(info.outputShape, x.dtype);
    // Views after makeOutput: allocating may grow (and detach) the wasm heap.
    const src = backend.typedArrayFromHeap(x);
    const ids = backend.typedArrayFromHeap(indices);
    const dst = backend.typedArrayFromHeap(out);
    const { batchSize, outerSize, dimSize, sliceSize } = info;
    const perBatch = ids.length / batchSize;
    // x viewed as [batch, outer, dim, slice], indices as [batch, perBatch], out as [batch, outer, perBatch, slice]
    let o = 0;
    for (let b = 0; b < batchSize; b++) {
      for (let outer = 0; outer < outerSize; outer++) {
        const base = (b * outerSize + outer) * dimSize;
        for (let i = 0; i < perBatch; i++) {
          const index = ids[b * perBatch + i] as number;
          if (!(index >= 0 && index < dimSize)) {
            backend.disposeData(out.dataId);
            throw new Error(`GatherV2: the index value ${index} is not in [0, ${dimSize - 1}]`);
          }
          const from = (base + index) * sliceSize;
          dst.set(src.subarray(from, from + sliceSize), o);
          o += sliceSize;
        }
      }
    }
    return out;
  });
}

function registerSharedIdentity(): void {
  overrideWasmKernel("Identity", (originalFunc) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === "string") return originalFunc(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}

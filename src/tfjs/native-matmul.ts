import { createRequire } from "node:module";
import { isMainThread } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { OnnxGraphBuilder } from "../core/onnx-builder.js";
import { loadOnnxRuntime, type OnnxRuntime } from "../core/onnxruntime.js";

/*
 * Large matrix products of the tfjs wasm backend computed by onnxruntime-node (MLAS: 3-6x the GFLOP/s
 * of tfjs-wasm on this machine), synchronously, straight from and into the wasm heap.
 *
 * tfjs kernels are synchronous, and onnxruntime-node's public `InferenceSession.run` returns a Promise
 * that only wraps a synchronous native call in setImmediate (dist/backend.js). We call that native
 * binding (dist/binding.js) directly. It is not public API: package.json pins onnxruntime-node's exact
 * version and checkBinding() (tested in native-matmul.test.ts) refuses a binding of another shape.
 * Inputs are views of the wasm heap (the binding wraps their memory without a copy) and the output is
 * preallocated on the heap, so onnxruntime writes the product in place; the binding still returns a
 * copy of it, which we drop.
 */

/** The subset of the native binding we use (onnxruntime-node 1.30 dist/binding.d.ts). */
interface BindingSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(
    feeds: Record<string, unknown>,
    fetches: Record<string, unknown>,
    options: object,
  ): Record<string, unknown>;
  dispose(): void;
}
export interface OnnxBinding {
  binding: { InferenceSession: new () => BindingSession };
  initOrt: () => void;
}

/** Products with fewer multiply-adds than this stay on wasm (see docs/training.md, "Native matrix products"). */
export const DEFAULT_MIN_MACS = 1 << 18;

/** Products whose inner dimension is shorter stay on wasm (see nativeBatchMatMul). */
export const DEFAULT_MIN_INNER = 16;

export interface NativeMatMulOptions {
  /** onnxruntime intra-op threads per session (default: 2 on the main thread, 1 in a worker thread). */
  threads?: number;
  /** Products of fewer multiply-adds stay on wasm. */
  minMacs?: number;
  /** Products with a shorter inner dimension stay on wasm. */
  minInner?: number;
}

interface State {
  ort: OnnxRuntime;
  Builder: typeof OnnxGraphBuilder;
  binding: OnnxBinding;
  threads: number;
  minMacs: number;
  minInner: number;
  sessions: Map<string, BindingSession>;
}

let state: State | undefined;
let loading: Promise<State | undefined> | undefined;
let unavailable: string | undefined;
/** Products sent to onnxruntime and kept on wasm since the last reset (for benches and tests). */
export const nativeMatMulCounts = { native: 0, wasm: 0, weightFirst: 0 };

/**
 * Throws unless `module` looks like the binding this file was written against. Called on load, so an
 * upgrade of onnxruntime-node that reshapes its private binding fails loudly instead of mis-multiplying.
 */
export function checkBinding(module: unknown): OnnxBinding {
  const m = module as Partial<OnnxBinding> | undefined;
  const Session = m?.binding?.InferenceSession;
  const proto = Session?.prototype as Partial<BindingSession> | undefined;
  const missing = [
    typeof m?.initOrt === "function" ? "" : "initOrt()",
    typeof Session === "function" ? "" : "binding.InferenceSession",
    typeof proto?.loadModel === "function" ? "" : "InferenceSession.loadModel()",
    typeof proto?.run === "function" ? "" : "InferenceSession.run()",
    typeof proto?.dispose === "function" ? "" : "InferenceSession.dispose()",
  ].filter(Boolean);
  if (missing.length > 0)
    throw new Error(
      `onnxruntime-node's native binding (dist/binding.js) has changed shape: missing ${missing.join(", ")}. ` +
        "src/tfjs/native-matmul.ts calls it directly; check it against the installed version before unpinning.",
    );
  return m as OnnxBinding;
}

/**
 * Loads onnxruntime-node (through core/onnxruntime, telemetry off) and routes the wasm backend's large
 * matrix products to it from then on (the BatchMatMul/_FusedMatMul kernels of applyWasmKernelFixes ask
 * nativeBatchMatMul first). Resolves to false, and wasm keeps every product, when onnxruntime cannot
 * load or CAPTIONKIT_NATIVE_MATMUL=0. Called by initBackend("wasm"); calling again only updates options.
 */
export async function enableNativeMatMul(options: NativeMatMulOptions = {}): Promise<boolean> {
  if (process.env.CAPTIONKIT_NATIVE_MATMUL === "0") {
    unavailable = "CAPTIONKIT_NATIVE_MATMUL=0";
    return false;
  }
  loading ??= (async () => {
    try {
      const ort = await loadOnnxRuntime();
      const { OnnxGraphBuilder: Builder } = await import("../core/onnx-builder.js");
      // dist/binding.js is the module dist/backend.js loaded: same native instance, already initialised.
      const require = createRequire(import.meta.url);
      const binding = checkBinding(require("onnxruntime-node/dist/binding.js"));
      binding.initOrt();
      const threads = Number(process.env.CAPTIONKIT_MATMUL_THREADS) || (isMainThread ? 2 : 1);
      return {
        ort,
        Builder,
        binding,
        threads,
        minMacs: DEFAULT_MIN_MACS,
        minInner: DEFAULT_MIN_INNER,
        sessions: new Map(),
      };
    } catch (error) {
      unavailable = `onnxruntime-node did not load: ${(error as Error).message}`;
      return undefined;
    }
  })();
  const loaded = await loading;
  if (loaded) {
    state = loaded;
    configureNativeMatMul(options);
  }
  return state !== undefined;
}

/** Changes threads (rebuilding the cached sessions) or the thresholds; no-op while disabled. */
export function configureNativeMatMul(options: NativeMatMulOptions): void {
  if (!state) return;
  if (options.minMacs !== undefined) state.minMacs = options.minMacs;
  if (options.minInner !== undefined) state.minInner = options.minInner;
  if (options.threads !== undefined && options.threads !== state.threads) {
    for (const session of state.sessions.values()) session.dispose();
    state.sessions.clear();
    state.threads = options.threads;
  }
}

/** Stops routing products to onnxruntime (they all stay on wasm) until enableNativeMatMul() again. */
export function disableNativeMatMul(): void {
  state = undefined;
}

export function nativeMatMulStatus(): {
  enabled: boolean;
  threads?: number;
  minMacs?: number;
  reason?: string;
} {
  if (state) return { enabled: true, threads: state.threads, minMacs: state.minMacs };
  return { enabled: false, reason: unavailable ?? "not enabled" };
}

/**
 * The session of a small graph, built once per key by `build` (which adds its nodes and returns its
 * inputs and outputs, every dimension symbolic) and cached until the thread count changes.
 */
function cachedSession(s: State, key: string, build: GraphDefinition): BindingSession {
  let cached = s.sessions.get(key);
  if (cached) return cached;
  const g = new s.Builder();
  const { inputs, outputs } = build(g);
  const bytes = g.build({ name: key, opset: 13, inputs, outputs });
  cached = new s.binding.binding.InferenceSession();
  cached.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, {
    intraOpNumThreads: s.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    // Spinning threads would burn the core tfjs needs between two products.
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  });
  s.sessions.set(key, cached);
  return cached;
}

/** Adds a graph's nodes to g; returns its float32 inputs and its outputs (runNativeGraph reads `y`). */
export type GraphDefinition = (g: OnnxGraphBuilder) => {
  inputs: { name: string; dims: string[] }[];
  outputs: string[];
};

/** A float32 tensor on the wasm heap and the dims onnxruntime should see it with. */
export type HeapOperand = [info: tf.TensorInfo, dims: number[]];

/**
 * Runs the cached graph `key` on onnxruntime, reading the inputs from the wasm heap, into a new heap
 * tensor of `outShape` (its one output, `y`, seen by onnxruntime as `outDims`, preallocated so it writes in
 * place); freed again if the run throws. undefined, with nothing run, while native products are off.
 * Views are taken after the allocation, which may grow (and detach) the heap.
 */
export function runNativeGraph(
  backend: BackendWasm,
  key: string,
  build: GraphDefinition,
  inputs: Record<string, HeapOperand>,
  outShape: number[],
  outDims: number[] = outShape,
): tf.TensorInfo | undefined {
  const s = state;
  if (!s) return undefined;
  const out = backend.makeOutput(outShape, "float32");
  const tensor = ([info, dims]: HeapOperand) =>
    new s.ort.Tensor("float32", backend.typedArrayFromHeap(info) as Float32Array, dims);
  const feeds = Object.fromEntries(Object.entries(inputs).map(([name, operand]) => [name, tensor(operand)]));
  try {
    cachedSession(s, key, build).run(feeds, { y: tensor([out, outDims]) }, {});
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  }
  return out;
}

/** Whether runNativeGraph would run (native products enabled). */
export function nativeGraphsEnabled(): boolean {
  return state !== undefined;
}

/**
 * One product graph per (rank, transposeA, transposeB), every dimension symbolic. Rank 2 is a Gemm
 * (MLAS reads transposed operands in place); rank 3 is a MatMul, which broadcasts a batch of 1 against
 * the other's, behind explicit Transposes that onnxruntime's optimiser fuses into the product.
 */
function productGraph(rank: 2 | 3, transposeA: boolean, transposeB: boolean): [string, GraphDefinition] {
  const key = `matmul_${rank}${transposeA ? "T" : "N"}${transposeB ? "T" : "N"}`;
  return [
    key,
    (g) => {
      g.reserve(["y"]);
      const dims = (rows: string, cols: string) =>
        rank === 2 ? [rows, cols] : [`${rows}_batch`, rows, cols];
      const inputs = [
        { name: "a", dims: transposeA ? dims("k", "m") : dims("m", "k") },
        { name: "b", dims: transposeB ? dims("n", "k") : dims("k", "n") },
      ];
      if (rank === 2) {
        g.node("Gemm", ["a", "b"], { transA: transposeA ? 1 : 0, transB: transposeB ? 1 : 0 }, "y", true);
      } else {
        const a = transposeA ? g.node("Transpose", ["a"], { perm: [0, 2, 1] }) : "a";
        const b = transposeB ? g.node("Transpose", ["b"], { perm: [0, 2, 1] }) : "b";
        g.node("MatMul", [a, b], {}, "y", true);
      }
      return { inputs, outputs: ["y"] };
    },
  ];
}

const tfBackendUtil = tf.backend_util;
const product = (xs: readonly number[]) => xs.reduce((p, x) => p * x, 1);

/**
 * a·b (each optionally transposed in its last two axes, batch axes broadcast as tf.matMul does) on
 * onnxruntime, as a new tensor on the wasm heap; undefined when the product should stay on wasm
 * (native products disabled, fewer than minMacs multiply-adds, an inner dimension under 16, not float32,
 * or a batch broadcast other than equal batches or a batch of one).
 */
export function nativeBatchMatMul(
  backend: BackendWasm,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  /** bᵀ as a contiguous copy when b is a weight used again (kernel-fixes' cache), else undefined. */
  reusedTranspose?: (x: tf.TensorInfo) => tf.TensorInfo | undefined,
): tf.TensorInfo | undefined {
  const s = state;
  if (!s || a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2)
    return undefined;
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [m, k] = transposeA ? [ac, ar] : [ar, ac];
  const n = transposeB ? br : bc;
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const batchA = product(batchShapeA);
  const batchB = product(batchShapeB);
  const batch = Math.max(batchA, batchB);
  // With a short inner dimension the product is mostly the writing of its output, which the binding
  // then copies once more: wasm is as fast there (bench/kernel-fixes.ts).
  if (batch * m * k * n < s.minMacs || k < s.minInner || (transposeB ? bc : br) !== k) {
    nativeMatMulCounts.wasm++;
    return undefined;
  }
  // tf.matMul's output batch shape is the broadcast of both; we handle equal batches and a batch of one.
  const outBatchShape = tfBackendUtil.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  if (!(batchA === 1 || batchB === 1 || (batchA === batchB && product(outBatchShape) === batch))) {
    nativeMatMulCounts.wasm++;
    return undefined;
  }
  if (!transposeA && batchB === 1 && batchA * m <= FEW_ROWS && k * n >= LARGE_WEIGHT) {
    const weight = transposeB ? b : reusedTranspose?.(b);
    if (weight) {
      nativeMatMulCounts.native++;
      nativeMatMulCounts.weightFirst++;
      return weightFirstProduct(backend, a, weight, batchA * m, k, n, [...outBatchShape, m, n]);
    }
  }
  let dimsA: number[];
  let dimsB: number[];
  let dimsY: number[];
  let rank: 2 | 3;
  if (batchB === 1 && (batchA === 1 || !transposeA)) {
    // b is one matrix: fold a's batch into its rows, one large product instead of `batch` small ones
    rank = 2;
    dimsA = transposeA ? [ar, ac] : [batchA * ar, ac];
    dimsB = [br, bc];
    dimsY = [batchA * m, n];
  } else {
    rank = 3;
    dimsA = [batchA, ar, ac];
    dimsB = [batchB, br, bc];
    dimsY = [batch, m, n];
  }
  const out = runNativeGraph(
    backend,
    ...productGraph(rank, transposeA, transposeB),
    { a: [a, dimsA], b: [b, dimsB] },
    [...outBatchShape, m, n],
    dimsY,
  ) as tf.TensorInfo; // state was checked above
  nativeMatMulCounts.native++;
  return out;
}

/** Products with at most this many rows against a weight of LARGE_WEIGHT values go weight first. */
const FEW_ROWS = 64;
const LARGE_WEIGHT = 1 << 20;

/**
 * a·wᵀ for a of few rows ([rows, k]) and a large weight w stored [n, k], as (w·aᵀ)ᵀ. MLAS packs a Gemm's
 * second operand on every call; with the weight second (the usual a·w), a per-time-step product of 32
 * rows against [1792, 2048] spent most of its time repacking the 14 MB weight: 7.7 ms, against 2.6 ms
 * with the weight first and only the 32 rows packed (a single-Gemm session; through tfjs, see the
 * [32,2048] rows of bench/kernel-fixes.ts). The [n, rows] result is transposed into the output (tens of
 * thousands of values, a fraction of a millisecond).
 */
function weightFirstProduct(
  backend: BackendWasm,
  a: tf.TensorInfo,
  weight: tf.TensorInfo,
  rows: number,
  k: number,
  n: number,
  outShape: number[],
): tf.TensorInfo {
  const flipped = runNativeGraph(
    backend,
    ...productGraph(2, false, true),
    { a: [weight, [n, k]], b: [a, [rows, k]] },
    [n, rows],
  ) as tf.TensorInfo; // state was checked by the caller
  let out: tf.TensorInfo;
  try {
    out = backend.makeOutput(outShape, "float32");
    // Views after the allocation, which may grow (and detach) the wasm heap.
    const from = backend.typedArrayFromHeap(flipped) as Float32Array;
    const to = backend.typedArrayFromHeap(out) as Float32Array;
    for (let j = 0; j < n; j++) for (let i = 0; i < rows; i++) to[i * n + j] = from[j * rows + i] as number;
  } finally {
    backend.disposeData(flipped.dataId);
  }
  return out;
}

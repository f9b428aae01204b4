import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { nativeGraphsEnabled, runNativeGraph } from "./native-matmul.js";
import { overrideWasmKernel } from "./wasm-kernel.js";

/*
 * Large elementwise transcendentals and transposes of the wasm backend on onnxruntime, when native
 * products are on (training). tfjs-wasm computes Exp and Tanh one scalar libm call at a time on one core
 * (the [512, 2533] logits: Exp 12.0 ms, Tanh 28.2 ms; onnxruntime 4.6 and 3.9 ms, bench/native-elementwise.ts
 * at load 3.4); its Sigmoid is XNNPACK's vectorised one and stays. Results differ from libm's by an ulp
 * or so, like any other backend's (tested against cpu). The JS transpose of [1792, 2048] took 24.8 ms,
 * onnxruntime's 13.8.
 */

/**
 * The unary kernels sent to onnxruntime (the ONNX operator has the tfjs kernel's name), with the size
 * from which they are: a call costs ~0.1 ms, wasm Exp 0.16 ms per 16K values, Tanh 0.2 ms per 4K
 * (bench/native-elementwise.ts).
 */
const UNARY_MIN_VALUES = { Exp: 1 << 14, Tanh: 1 << 12 };

/**
 * Whether tf.tanh(x) runs on onnxruntime here (wasm backend, native products on, x large enough). Then
 * the decoders use it instead of 2·sigmoid(2x) - 1, their formula for wasm's slow Tanh: the backward is
 * three wasm ops instead of the sigmoid chain's, and a SAT-512 training step took ~10% less in three
 * alternated pairs of runs (docs/RESULTS.md, session 12).
 */
export function nativeTanhFor(x: tf.Tensor): boolean {
  return nativeGraphsEnabled() && x.size >= UNARY_MIN_VALUES.Tanh && tf.getBackend() === "wasm";
}

/** Below this many values a transpose stays in JS (512x512: 0.75 ms in JS, 0.30 on onnxruntime). */
export const MIN_NATIVE_TRANSPOSE = 1 << 17;

/** Calls sent to onnxruntime since the last reset (for tests and benches). */
export const nativeElementwiseCounts = { unary: 0, transpose: 0 };

/** `opType`(x) on onnxruntime into a new heap tensor; undefined when it should stay on wasm. */
export function nativeUnary(
  backend: BackendWasm,
  opType: string,
  x: tf.TensorInfo,
  minValues: number,
): tf.TensorInfo | undefined {
  const values = tf.util.sizeFromShape(x.shape);
  if (!nativeGraphsEnabled() || x.dtype !== "float32" || values < minValues) return undefined;
  const out = runNativeGraph(
    backend,
    `unary_${opType}`,
    (g) => {
      g.reserve(["y"]);
      g.node(opType, ["x"], {}, "y", true);
      return { inputs: [{ name: "x", dims: ["n"] }], outputs: ["y"] };
    },
    { x: [x, [values]] },
    x.shape,
    [values],
  );
  if (out) nativeElementwiseCounts.unary++;
  return out;
}

/**
 * x with its last two axes swapped, on onnxruntime (both cores, cache-blocked), into a new heap tensor;
 * undefined when it should stay in JS (small, not float32, or native products off).
 */
export function nativeSwapLastTwo(backend: BackendWasm, x: tf.TensorInfo): tf.TensorInfo | undefined {
  const values = tf.util.sizeFromShape(x.shape);
  if (!nativeGraphsEnabled() || x.dtype !== "float32" || values < MIN_NATIVE_TRANSPOSE) return undefined;
  const rank = x.shape.length;
  const rows = x.shape[rank - 2] as number;
  const cols = x.shape[rank - 1] as number;
  const batch = values / (rows * cols);
  const out = runNativeGraph(
    backend,
    "swap_last_two",
    (g) => {
      g.reserve(["y"]);
      g.node("Transpose", ["x"], { perm: [0, 2, 1] }, "y", true);
      return { inputs: [{ name: "x", dims: ["b", "r", "c"] }], outputs: ["y"] };
    },
    { x: [x, [batch, rows, cols]] },
    [...x.shape.slice(0, -2), cols, rows],
    [batch, cols, rows],
  );
  if (out) nativeElementwiseCounts.transpose++;
  return out;
}

/** Routes the wasm backend's large Exp and Tanh through nativeUnary (kernel-fixes (h)). */
export function registerNativeElementwise(): void {
  for (const [kernelName, minValues] of Object.entries(UNARY_MIN_VALUES)) {
    overrideWasmKernel(kernelName, (originalFunc) => (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      return nativeUnary(args.backend, kernelName, x, minValues) ?? originalFunc(args);
    });
  }
}

import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { nativeGraphsEnabled, runNativeGraph } from "./native-matmul.js";
import { overrideWasmKernel } from "./wasm-kernel.js";

/*
 * Large elementwise transcendentals and transposes of the wasm backend on onnxruntime, when native
 * products are on (training). tfjs-wasm computes Exp and Tanh one scalar libm call at a time on one core
 * (the [512, 2533] logits: Exp 13.9 ms, Tanh 33.7 ms; onnxruntime 2.7 and 4.2 ms); its Sigmoid is
 * XNNPACK's vectorised one and stays. Results differ from libm's by an ulp or so, like any other
 * backend's (tested against cpu). The JS transpose of [1792, 2048] took 28.5 ms, onnxruntime's 13.1.
 */

/**
 * The unary kernels sent to onnxruntime, with the size from which they are (a call costs ~0.1 ms; wasm
 * Exp takes 0.16 ms per 16K values, Tanh 0.2 ms per 4K; bench/kernel-fixes.ts).
 */
const UNARY_OPS: Record<string, { opType: string; minValues: number }> = {
  Exp: { opType: "Exp", minValues: 1 << 14 },
  Tanh: { opType: "Tanh", minValues: 1 << 12 },
};

/**
 * Whether tf.tanh(x) runs on onnxruntime here (wasm backend, native products on, x large enough). Then
 * the decoders use it instead of 2·sigmoid(2x) - 1, their formula for wasm's slow Tanh: the forward is
 * as fast, and the backward is three wasm ops instead of the sigmoid chain's (on [32, 49, 512], forward
 * and backward: 3.7 ms against 12.3; a SAT-512 training step ~10% faster).
 */
export function nativeTanhFor(x: tf.Tensor): boolean {
  return (
    nativeGraphsEnabled() && x.size >= (UNARY_OPS.Tanh?.minValues ?? Infinity) && tf.getBackend() === "wasm"
  );
}

/** Below this many values a transpose stays in JS (512x512: 0.75 ms in JS, 0.30 on onnxruntime). */
export const MIN_NATIVE_TRANSPOSE = 1 << 17;

/** Calls sent to onnxruntime since the last reset (for tests and benches). */
export const nativeElementwiseCounts = { unary: 0, transpose: 0 };

const size = (x: tf.TensorInfo) => x.shape.reduce((a, b) => a * b, 1);

/** `opType`(x) on onnxruntime into a new heap tensor; undefined when it should stay on wasm. */
export function nativeUnary(
  backend: BackendWasm,
  opType: string,
  x: tf.TensorInfo,
  minValues = 1 << 14,
): tf.TensorInfo | undefined {
  if (!nativeGraphsEnabled() || x.dtype !== "float32" || size(x) < minValues) return undefined;
  const out = backend.makeOutput(x.shape, "float32");
  const dims = [size(x)];
  try {
    runNativeGraph(
      backend,
      `unary_${opType}`,
      (g) => {
        g.reserve(["y"]);
        g.node(opType, ["x"], {}, "y", true);
        return { inputs: [{ name: "x", dims: ["n"] }], outputs: ["y"] };
      },
      { x: [x, dims] },
      { y: [out, dims] },
    );
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  }
  nativeElementwiseCounts.unary++;
  return out;
}

/**
 * x with its last two axes swapped, on onnxruntime (both cores, cache-blocked), into a new heap tensor;
 * undefined when it should stay in JS (small, not float32, or native products off).
 */
export function nativeSwapLastTwo(backend: BackendWasm, x: tf.TensorInfo): tf.TensorInfo | undefined {
  if (!nativeGraphsEnabled() || x.dtype !== "float32" || size(x) < MIN_NATIVE_TRANSPOSE) return undefined;
  const rank = x.shape.length;
  const rows = x.shape[rank - 2] as number;
  const cols = x.shape[rank - 1] as number;
  const batch = size(x) / (rows * cols);
  const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], "float32");
  try {
    runNativeGraph(
      backend,
      "swap_last_two",
      (g) => {
        g.reserve(["y"]);
        g.node("Transpose", ["x"], { perm: [0, 2, 1] }, "y", true);
        return { inputs: [{ name: "x", dims: ["b", "r", "c"] }], outputs: ["y"] };
      },
      { x: [x, [batch, rows, cols]] },
      { y: [out, [batch, cols, rows]] },
    );
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  }
  nativeElementwiseCounts.transpose++;
  return out;
}

/** Routes the wasm backend's large Exp and Tanh through nativeUnary (kernel-fixes (h)). */
export function registerNativeElementwise(): void {
  for (const [kernelName, { opType, minValues }] of Object.entries(UNARY_OPS)) {
    overrideWasmKernel(kernelName, (originalFunc) => (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      return nativeUnary(args.backend, opType, x, minValues) ?? originalFunc(args);
    });
  }
}

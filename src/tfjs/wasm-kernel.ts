import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/** A wasm kernel's arguments, with its backend typed. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs?: tf.NamedAttrMap;
}

export type WasmKernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/**
 * Replaces the wasm backend's kernel `kernelName` by `wrap(original)` (the fixes of kernel-fixes.ts and
 * slice-kernels.ts); does nothing where the backend has no such kernel.
 */
export function overrideWasmKernel(kernelName: string, wrap: (original: WasmKernel) => WasmKernel): void {
  const original = tf.getKernel(kernelName, "wasm");
  if (!original) return;
  const kernelFunc = wrap(original.kernelFunc as unknown as WasmKernel);
  tf.unregisterKernel(kernelName, "wasm");
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

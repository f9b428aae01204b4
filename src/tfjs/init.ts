import { type BackendName, initBackend } from "./backend.js";
import { applyWasmKernelFixes } from "./kernel-fixes.js";
import { enableNativeMatMul } from "./native-matmul.js";

export interface InitTfjsOptions {
  /**
   * Send the large matrix products of the wasm backend to onnxruntime (native-matmul.ts): what training
   * wants. Off for inference, whose decoders get their speed from onnxruntime graphs instead and whose
   * captions stay bit for bit those of the tfjs reference. CAPTIONKIT_NATIVE_MATMUL=0 forces it off.
   */
  nativeMatMul?: boolean;
}

/**
 * The one place that readies tfjs: the backend (wasm by default; cpu as a numerical reference) and, on
 * wasm, the kernel fixes that training and generation need. Every library entry point calls it.
 */
export async function initTfjs(backend: BackendName = "wasm", options: InitTfjsOptions = {}): Promise<void> {
  await initBackend(backend);
  if (backend !== "wasm") return;
  // loaded before any kernel runs: tfjs kernels are synchronous, onnxruntime loads asynchronously
  if (options.nativeMatMul) await enableNativeMatMul();
  applyWasmKernelFixes();
}

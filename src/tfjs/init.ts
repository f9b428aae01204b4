import { type BackendName, initBackend } from "./backend.js";
import { applyWasmKernelFixes } from "./kernel-fixes.js";

/**
 * The one place that readies tfjs: the backend (wasm by default; cpu as a numerical reference) and, on
 * wasm, the kernel fixes that training and generation need. Every library entry point calls it.
 */
export async function initTfjs(backend: BackendName = "wasm"): Promise<void> {
  await initBackend(backend);
  if (backend === "wasm") applyWasmKernelFixes();
}

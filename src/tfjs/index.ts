// The tfjs runtime: backend selection, the wasm kernel fixes, and the one init every entry point calls.
export { type BackendName, initBackend, tf } from "./backend.js";
export { initTfjs } from "./init.js";
export { applyWasmKernelFixes, clearTransposeCache } from "./kernel-fixes.js";

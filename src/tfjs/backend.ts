import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-cpu";
import { enableNativeMatMul } from "./native-matmul.js";

export type BackendName = "wasm" | "cpu";

let ready: Promise<void> | undefined;
let readyName: BackendName | undefined;

/**
 * Selects the tfjs backend once per process (or worker thread). wasm is the default: the pure-JS cpu
 * backend is 30-90x slower and only serves as a numerical reference in tests. The .wasm binaries are
 * read from node_modules, never fetched. With wasm, onnxruntime-node is loaded too, for the large matrix
 * products (native-matmul.ts; CAPTIONKIT_NATIVE_MATMUL=0 keeps them on wasm).
 */
export function initBackend(name: BackendName = "wasm"): Promise<void> {
  if (ready && readyName === name) return ready;
  readyName = name;
  ready = (async () => {
    if (name === "wasm") {
      const require = createRequire(import.meta.url);
      const wasmDir = path.dirname(
        require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"),
      );
      setWasmPaths(`${wasmDir}${path.sep}`);
    }
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`could not initialise the tfjs ${name} backend`);
    await tf.ready();
    // Loaded now because kernels are synchronous; used once applyWasmKernelFixes() wraps the products.
    if (name === "wasm") await enableNativeMatMul();
  })();
  return ready;
}

export { tf };

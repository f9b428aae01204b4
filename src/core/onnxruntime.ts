import type * as Ort from "onnxruntime-node";

export type OnnxRuntime = typeof Ort;

// onnxruntime-node 1.30 turns telemetry on by default: it writes ~/.cache/Microsoft/... and
// /tmp/mat-debug-<pid>.log, queues events for upload, and its std::regex over /proc/self/cmdline
// overflows the stack (SIGSEGV) once the command line passes ~29 KB. The native library reads this
// variable when it loads, so it is set here, before the only import of the package in captionkit.
// A worker thread's process.env is a copy that native code never sees: the variable must be set in
// the main thread, which happens because the modules that start encoder workers (features/pool.ts)
// import the encoders, and so this module, before starting any worker. bin/captionkit.js sets it too.
process.env.ORT_DISABLE_TELEMETRY = "1";

let loading: Promise<OnnxRuntime> | undefined;

/**
 * onnxruntime-node, loaded once and lazily (commands that never run a graph never pay for it), always
 * with its telemetry off. Every module of captionkit that needs onnxruntime goes through this function:
 * a static `import "onnxruntime-node"` elsewhere would load the library before the variable is set.
 */
export function loadOnnxRuntime(): Promise<OnnxRuntime> {
  loading ??= import("onnxruntime-node") as Promise<OnnxRuntime>;
  return loading;
}

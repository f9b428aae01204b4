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

/** A session of onnxruntime-node's native binding: run() is synchronous. */
export interface SyncOnnxSession {
  readonly inputNames: string[];
  readonly outputNames: string[];
  run(
    feeds: Record<string, Ort.Tensor>,
    fetches: Record<string, null>,
    options: Ort.InferenceSession.RunOptions,
  ): Record<string, Ort.Tensor>;
  dispose(): void;
}

/**
 * Creates sessions whose run() returns at once: the package's InferenceSession.run() defers every call
 * to setImmediate, which costs a turn of the event loop per call; decoder steps are called synchronously
 * by the searches, thousands of times per caption batch. Same native library, same options.
 */
export async function loadSyncOnnxSessions(): Promise<
  (model: Uint8Array, options: Ort.InferenceSession.SessionOptions) => SyncOnnxSession
> {
  await loadOnnxRuntime(); // the environment above is set, and the library loaded, first
  const { binding, initOrt } = (await import("onnxruntime-node/dist/binding.js")) as unknown as {
    binding: { InferenceSession: new () => NativeSession };
    initOrt: () => void;
  };
  return (model, options) => {
    initOrt();
    const native = new binding.InferenceSession();
    native.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
      executionProviders: [{ name: "cpu" }],
      ...options,
    });
    return {
      inputNames: native.inputMetadata.map((m) => m.name),
      outputNames: native.outputMetadata.map((m) => m.name),
      run: (feeds, fetches, runOptions) => native.run(feeds, fetches, runOptions),
      dispose: () => native.dispose(),
    };
  };
}

interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  readonly inputMetadata: { name: string }[];
  readonly outputMetadata: { name: string }[];
  run(feeds: object, fetches: object, options: object): Record<string, Ort.Tensor>;
  dispose(): void;
}

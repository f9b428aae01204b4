import * as tf from "@tensorflow/tfjs";
import { nativeMatMulCounts } from "../src/tfjs/native-matmul.js";

/**
 * Wall time per wasm kernel (exclusive of the kernels it calls), for `bench/training.ts --profile`.
 * Matrix products are split into those onnxruntime computed and those wasm kept.
 */
export function profileWasmKernels(byShape = false): { report(steps: number): string; reset(): void } {
  const totals = new Map<string, { ms: number; calls: number }>();
  let childMs = 0;
  for (const config of tf.getKernelsForBackend("wasm")) {
    const inner = config.kernelFunc;
    const kernelFunc: tf.KernelFunc = (args) => {
      const before = nativeMatMulCounts.native;
      const outerChild = childMs;
      childMs = 0;
      const t0 = performance.now();
      try {
        return inner(args);
      } finally {
        const ms = performance.now() - t0;
        const native = nativeMatMulCounts.native > before ? " (onnxruntime)" : "";
        const { a, b } = args.inputs as { a?: tf.TensorInfo; b?: tf.TensorInfo };
        const detail =
          byShape && config.kernelName === "BatchMatMul" && a && b
            ? ` ${a.shape.join("x")}${args.attrs?.transposeA ? "T" : ""}·${b.shape.join("x")}${args.attrs?.transposeB ? "T" : ""}`
            : "";
        const name = `${config.kernelName}${native}${detail}`;
        const entry = totals.get(name) ?? { ms: 0, calls: 0 };
        entry.ms += ms - childMs;
        entry.calls++;
        totals.set(name, entry);
        childMs = outerChild + ms;
      }
    };
    tf.unregisterKernel(config.kernelName, "wasm");
    tf.registerKernel({ ...config, kernelFunc });
  }
  return {
    reset: () => totals.clear(),
    report: (steps) => {
      const rows = [...totals].sort((a, b) => b[1].ms - a[1].ms);
      const all = rows.reduce((s, [, e]) => s + e.ms, 0);
      return [
        `  kernel time per step: ${(all / steps).toFixed(0)} ms`,
        ...rows
          .slice(0, byShape ? 40 : 15)
          .map(
            ([name, e]) =>
              `  ${name.padEnd(byShape ? 56 : 32)} ${(e.ms / steps).toFixed(1).padStart(8)} ms/step ${((100 * e.ms) / all).toFixed(1).padStart(5)}%  ${(e.calls / steps).toFixed(0)} calls/step`,
          ),
      ].join("\n");
    },
  };
}

/**
 * What kernel-fixes (h) moved to onnxruntime (src/tfjs/native-elementwise.ts), against wasm, median
 * ms: unary kernels at the sizes a training step meets (the [512, 2533] logits, per-step gates), the
 * transposed copies of kernel-fixes' swapLastTwo, and the decoders' tanh forward and backward as
 * 2·sigmoid(2x) - 1 and as tf.tanh. Sets MIN values in native-elementwise.ts and justifies keeping
 * Sigmoid on wasm.
 *
 *   npx tsx bench/native-elementwise.ts [--rounds N]
 */
import os from "node:os";
import { parseArgs } from "node:util";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { initBackend, tf } from "../src/tfjs/backend.js";
import { applyWasmKernelFixes, swapLastTwo } from "../src/tfjs/kernel-fixes.js";
import { nativeUnary } from "../src/tfjs/native-elementwise.js";
import { disableNativeMatMul, enableNativeMatMul } from "../src/tfjs/native-matmul.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "25" } } });
const rounds = Number(values.rounds);
await initBackend("wasm");
await enableNativeMatMul();
applyWasmKernelFixes();
const backend = tf.backend() as BackendWasm;

function median(f: () => void): number {
  for (let i = 0; i < 3; i++) f();
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    f();
    times.push(performance.now() - start);
  }
  times.sort((p, q) => p - q);
  return times[Math.floor(rounds / 2)] as number;
}

/** Median ms of f with wasm only, then with onnxruntime on. */
async function both(f: () => void): Promise<[number, number]> {
  disableNativeMatMul();
  const wasm = median(f);
  await enableNativeMatMul();
  return [wasm, median(f)];
}

console.log(
  `load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}; median of ${rounds} runs, ms`,
);
console.log("| kernel | shape | wasm (or JS) | onnxruntime |\n| --- | --- | --- | --- |");
const row = (name: string, shape: number[], [wasm, native]: [number, number]) =>
  console.log(`| ${name} | ${shape.join("x")} | ${wasm.toFixed(3)} | ${native.toFixed(3)} |`);
for (const shape of [
  [32, 512],
  [32, 2048],
  [32, 8192],
  [512, 2533],
]) {
  const x = tf.randomNormal(shape);
  const info = x as unknown as tf.TensorInfo;
  for (const [op, opType] of [
    ["exp", "Exp"],
    ["tanh", "Tanh"],
    ["sigmoid", "Sigmoid"],
  ] as const) {
    disableNativeMatMul();
    const wasm = median(() => tf[op](x).dispose());
    await enableNativeMatMul();
    // directly, whatever the threshold (Sigmoid is not routed there: wasm's is faster)
    row(op, shape, [
      wasm,
      median(() => backend.disposeData(nativeUnary(backend, opType, info, 0)?.dataId ?? {})),
    ]);
  }
  x.dispose();
}
for (const shape of [
  [1792, 2048],
  [512, 4352],
  [32, 49, 1792],
  [512, 2533],
]) {
  const x = tf.randomNormal(shape);
  const info = x as unknown as tf.TensorInfo;
  row("transposed copy", shape, await both(() => backend.disposeData(swapLastTwo(info, backend).dataId)));
  x.dispose();
}
const sigmoidTanh = (x: tf.Tensor) => tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1);
console.log(
  "\n| tanh, forward and backward | shape | 2·sigmoid(2x) - 1 | tf.tanh on onnxruntime |\n| --- | --- | --- | --- |",
);
for (const shape of [
  [32, 49, 512],
  [32, 512],
]) {
  const x = tf.randomNormal(shape);
  const dy = tf.randomNormal(shape);
  const viaSigmoid = tf.grad(sigmoidTanh);
  const native = tf.grad((t: tf.Tensor) => tf.tanh(t));
  const a = median(() => viaSigmoid(x, dy).dispose());
  const b = median(() => native(x, dy).dispose());
  console.log(`| | ${shape.join("x")} | ${a.toFixed(3)} | ${b.toFixed(3)} |`);
}

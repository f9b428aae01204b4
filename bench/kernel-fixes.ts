/**
 * Speed of the tfjs wasm kernels patched by applyWasmKernelFixes(), before and after: matMul with a
 * transposed operand at 512x512x512 and at the Show-Attend-Tell backward shape [32, 2048] x
 * [2048, 1792]ᵀ, the gradient of one matMul (which always needs transposed operands), gather of
 * beam-search state, clone, and the embedding gradient. Operands of 2^17+ values seen twice are
 * transposed once and cached while alive (backpropagation through time reuses the same weight at
 * every step); the "fresh operand" rows defeat that cache. The last column sends the products of more
 * than DEFAULT_MIN_MACS multiply-adds to onnxruntime (src/tfjs/native-matmul.ts); a sweep of square
 * products with the threshold at 0 then shows where onnxruntime starts to win, which sets the threshold.
 *
 *   npx tsx bench/kernel-fixes.ts [--rounds N]
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { initBackend, tf } from "../src/tfjs/backend.js";
import { applyWasmKernelFixes } from "../src/tfjs/kernel-fixes.js";
import {
  configureNativeMatMul,
  DEFAULT_MIN_MACS,
  disableNativeMatMul,
  enableNativeMatMul,
  nativeMatMulStatus,
} from "../src/tfjs/native-matmul.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "10" } } });
const rounds = Number(values.rounds);

await initBackend("wasm");
await enableNativeMatMul(); // what the training entry points do (initTfjs's nativeMatMul)
if (!nativeMatMulStatus().enabled)
  throw new Error(`onnxruntime products unavailable: ${nativeMatMulStatus().reason}`);
disableNativeMatMul(); // the first two columns are wasm only

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function time(f: () => tf.Tensor | tf.Tensor[]): number {
  tf.dispose(f());
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const out = f(); // wasm kernels run synchronously: no read-back needed (it would copy the output)
    samples.push(performance.now() - t0);
    tf.dispose(out);
  }
  return median(samples);
}

const a = tf.randomNormal([512, 512]) as tf.Tensor2D;
const b = tf.randomNormal([512, 512]) as tf.Tensor2D;
const x = tf.randomNormal([32, 2048]) as tf.Tensor2D;
const w = tf.randomNormal([1792, 2048]) as tf.Tensor2D;
const wPlain = tf.randomNormal([2048, 1792]) as tf.Tensor2D;
const state = tf.randomNormal([12, 49, 1792]);
const rows = tf.tensor1d([0, 0, 1, 2, 2, 2, 5, 4, 3, 11, 10, 9], "int32");
const table = tf.randomNormal([2533, 512]) as tf.Tensor2D;
const ids = tf.randomUniform([32, 16], 0, 2533, "int32") as tf.Tensor2D;
const feats = tf.randomNormal([1568, 1792]) as tf.Tensor2D;
const proj = tf.randomNormal([1792, 512]) as tf.Tensor2D;
const context = tf.randomNormal([32, 1792]) as tf.Tensor2D;
const gates = tf.randomNormal([32, 2048]) as tf.Tensor2D;
const hidden = tf.randomNormal([512, 512]) as tf.Tensor2D;
const vocab = tf.randomNormal([512, 2533]) as tf.Tensor2D;
const embeddingGrad = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids)));
const grad = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D)));

const cases: [string, () => tf.Tensor | tf.Tensor[]][] = [
  ["512^3 plain", () => tf.matMul(a, b)],
  ["512^3 transposeA", () => tf.matMul(a, b, true, false)],
  ["512^3 transposeB", () => tf.matMul(a, b, false, true)],
  ["512^3 both", () => tf.matMul(a, b, true, true)],
  // a fresh copy every run, so the cache of transposed operands cannot help (the copy costs ~1 ms)
  ["512^3 plain, fresh operand", () => tf.tidy(() => tf.matMul(tf.add(a, 0), b))],
  ["512^3 transposeA, fresh operand", () => tf.tidy(() => tf.matMul(tf.add(a, 0), b, true, false))],
  ["512^3 gradient of matMul (dA and dB)", () => grad([a, b])],
  ["[32,2048]x[2048,1792] plain", () => tf.matMul(x, wPlain)],
  ["[32,2048]x[1792,2048]^T transposeB", () => tf.matMul(x, w, false, true)],
  [
    "[32,2048]x[1792,2048]^T transposeB, fresh operand",
    () => tf.tidy(() => tf.matMul(x, tf.add(w, 0), false, true)),
  ],
  ["SAT features [1568,1792]x[1792,512]", () => tf.matMul(feats, proj)],
  ["SAT LSTM weight gradient [32,1792]^T x [32,2048]", () => tf.matMul(context, gates, true, false)],
  ["SAT output layer [512,512]x[512,2533]", () => tf.matMul(hidden, vocab)],
  ["gather rows of [12,49,1792] (beam-search state)", () => tf.gather(state, rows)],
  ["clone of [1792,2048] (tfjs clones every tensor saved for backprop)", () => tf.clone(w)],
];

const before = cases.map(([, f]) => time(f));
// The embedding gradient has no wasm kernel before the fix: time it only after.
applyWasmKernelFixes();
const embeddingMs = time(() => embeddingGrad(table));
const after = cases.map(([, f]) => time(f));
await enableNativeMatMul();
const native = cases.map(([, f]) => time(f));
const { threads } = nativeMatMulStatus();

console.log(`median of ${rounds} runs, tfjs wasm 1 thread; onnxruntime ${threads} intra-op thread(s)`);
console.log("| case | before fix (ms) | after fix, wasm (ms) | after fix, onnxruntime (ms) | speed-up |");
console.log("| --- | --- | --- | --- | --- |");
cases.forEach(([name], i) => {
  const [t0, t1, t2] = [before[i], after[i], native[i]] as number[];
  console.log(
    `| ${name} | ${t0!.toFixed(1)} | ${t1!.toFixed(1)} | ${t2!.toFixed(1)} | ${(t0! / t2!).toFixed(1)}x |`,
  );
});

// Where onnxruntime starts to win: square products, every one native (threshold 0) against wasm.
console.log("\n| n x n x n product | wasm (us) | onnxruntime (us) |");
console.log("| --- | --- | --- |");
for (const n of [4, 16, 32, 48, 64, 96, 128]) {
  const p = tf.randomNormal([n, n]) as tf.Tensor2D;
  const q = tf.randomNormal([n, n]) as tf.Tensor2D;
  const many = () => tf.tidy(() => Array.from({ length: 20 }, () => tf.matMul(p, q))); // 20 per sample
  configureNativeMatMul({ minMacs: Number.POSITIVE_INFINITY });
  const wasmUs = (time(many) / 20) * 1000;
  configureNativeMatMul({ minMacs: 0 });
  const nativeUs = (time(many) / 20) * 1000;
  console.log(`| ${n} (${n ** 3} MACs) | ${wasmUs.toFixed(1)} | ${nativeUs.toFixed(1)} |`);
  tf.dispose([p, q]);
}
configureNativeMatMul({ minMacs: DEFAULT_MIN_MACS });
console.log(
  `| embedding gradient, [2533,512] table, 32x16 ids | fails (no kernel) | ${embeddingMs.toFixed(1)} | |`,
);
console.log(
  `load average: ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);

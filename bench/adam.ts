/**
 * The optimizer's share of a training step on Show-Attend-Tell 512's parameters (12.3M values): global
 * norm plus Adam update, through tfjs ops (clipByGlobalNorm, then Adam.apply, as before issue 21) and
 * fused (globalNormScale's scale folded into the one pass of src/tfjs/fused-adam.ts). Also the sum of
 * squares alone, and its accuracy against a float64 sum in JavaScript.
 *
 *   npx tsx bench/adam.ts [--steps N]
 */
import os from "node:os";
import { createDecoder } from "../src/decoders/factory.js";
import { tf } from "../src/tfjs/backend.js";
import { setFusedOptimizer, sumOfSquares } from "../src/tfjs/fused-adam.js";
import { initTfjs } from "../src/tfjs/init.js";
import { Adam, clipByGlobalNorm, globalNormScale } from "../src/training/optimizer.js";

const steps = Number(process.argv[process.argv.indexOf("--steps") + 1] || 5);
const load = () =>
  `load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`;

await initTfjs("wasm");
const decoder = createDecoder(
  { kind: "show-attend-tell", embedDim: 512, hiddenDim: 512, attentionDim: 512, dropout: 0.5 },
  { vocabSize: 2533, regions: 49, featureDim: 1792, pooledDim: 1792 },
  1,
);
const variables = decoder.variables;
const values = [...variables.values()].reduce((sum, v) => sum + v.size, 0);
console.log(`${variables.size} variables, ${(values / 1e6).toFixed(1)}M values (${load()})`);
// gradients of norm ~35, so a clip at 5 scales them, as clipping does early in training
const grads = new Map(
  [...variables].map(([name, v], i) => [name, tf.randomNormal(v.shape, 0, 0.01, "float32", i)]),
);

/** Mean milliseconds of `f` over `steps` runs, after one warm-up run. */
function time(f: () => void): number {
  f();
  const started = performance.now();
  for (let i = 0; i < steps; i++) f();
  return (performance.now() - started) / steps;
}

const adam = new Adam(variables, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
setFusedOptimizer(false);
const ops = time(() => {
  const clipped = new Map([...grads].map(([name, g]) => [name, g.clone()]));
  clipByGlobalNorm(clipped, 5);
  adam.apply(clipped, 1e-4);
  for (const g of clipped.values()) g.dispose();
});
console.log(`ops:   ${ops.toFixed(1)} ms per clip + Adam (${load()})`);
setFusedOptimizer(true);
const fused = time(() => adam.apply(grads, 1e-4, globalNormScale(grads, 5).scale));
console.log(`fused: ${fused.toFixed(1)} ms per clip + Adam, ${(ops / fused).toFixed(1)}x (${load()})`);

const tensors = [...grads.values()];
const sum = time(() => sumOfSquares(tensors));
console.log(`fused sum of squares: ${sum.toFixed(1)} ms (${load()})`);
let exact = 0;
for (const t of tensors) for (const x of t.dataSync()) exact += x * x;
const tfjs = tf.tidy(() => tf.addN(tensors.map((g) => g.square().sum())).dataSync()[0]!);
const relative = (x: number) => Math.abs(x - exact) / exact;
console.log(
  `sum of squares vs float64 in JS: fused ${relative(sumOfSquares(tensors)!).toExponential(1)}, tfjs ops ${relative(tfjs).toExponential(1)}`,
);

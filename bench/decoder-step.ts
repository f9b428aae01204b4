/**
 * One decoder step and the start graph, onnxruntime against tfjs, on the features the decoder reads
 * (random ones of the right size: a step's cost does not depend on their values).
 *
 *   npx tsx bench/decoder-step.ts [--model DIR] [--rounds N] [--steps N] [--cache DIR]
 *
 * Figures, each the median over rounds of the mean over --steps consecutive steps (positions 0..steps-1):
 * - greedy step at batch 1, one view and two (image + mirror image);
 * - beam step at 3 beams x 2 views x 32 images (192 decoder rows), with and without the beam gather;
 * - the start graph (feature head + memory projection) for 1 and 32 images x 2 views;
 * - two intra-op threads for the step graph instead of one;
 * - for an ensemble, the fused step graph against its members' runtimes called in turn.
 * The load average is printed with every figure: the numbers only mean something on an idle machine.
 */
import { execSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { defaultModelDir } from "../src/core/paths.js";
import { EnsembleDecoder } from "../src/decoders/ensemble.js";
import { createOnnxRuntime } from "../src/decoders/onnx/index.js";
import type { DecoderRuntime, FeatureBatch, StepSession } from "../src/decoders/runtime.js";
import { TfjsRuntime } from "../src/decoders/tfjs-runtime.js";
import { loadModel } from "../src/model/load.js";
import { initBackend } from "../src/tfjs/backend.js";
import { applyWasmKernelFixes } from "../src/tfjs/kernel-fixes.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    rounds: { type: "string", default: "7" },
    steps: { type: "string", default: "12" },
    cache: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const steps = Number(values.steps);

const load = () =>
  execSync("uptime")
    .toString()
    .trim()
    .replace(/.*load/, "load");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
function report(label: string, ms: number): void {
  console.log(`${label.padEnd(58)} ${ms.toFixed(3).padStart(9)} ms   (${load()})`);
}

function batch(count: number, shape: DecoderRuntime["shape"], seed: number): FeatureBatch {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state / 2147483648) * 4 - 2;
  };
  return {
    count,
    grid: Float32Array.from({ length: count * shape.regions * shape.featureDim }, next),
    pooled: Float32Array.from({ length: count * shape.pooledDim }, next),
  };
}

/** Mean ms per step over `steps` steps (and a gather after each when `beams`), median over rounds. */
function timeSteps(runtime: DecoderRuntime, views: FeatureBatch[], beams: number, gather: boolean): number {
  const session = runtime.open(views);
  const images = views[0]!.count;
  const rows = Int32Array.from({ length: images * beams }, (_, i) => Math.floor(i / beams));
  const times: number[] = [];
  for (let round = 0; round < rounds + 1; round++) {
    let state = session.start(rows);
    const began = performance.now();
    for (let t = 0; t < steps; t++) {
      const previous = Int32Array.from({ length: rows.length }, (_, i) => (t === 0 ? 1 : 4 + ((i + t) % 50)));
      const out = session.step(state, previous);
      session.release(state);
      state = out.state;
      if (gather) {
        const parents = Int32Array.from(rows, (_, i) => i - (i % beams) + ((i + t) % beams)); // within each image
        const moved = session.gather(state, parents);
        session.release(state);
        state = moved;
      }
    }
    session.release(state);
    if (round > 0) times.push((performance.now() - began) / steps); // round 0 warms up
  }
  session.close();
  return median(times);
}

function timeStart(runtime: DecoderRuntime, views: FeatureBatch[]): number {
  const times: number[] = [];
  for (let round = 0; round < rounds + 1; round++) {
    const began = performance.now();
    const session = runtime.open(views);
    const state = session.start(Int32Array.of(0));
    session.release(state);
    session.close();
    if (round > 0) times.push(performance.now() - began);
  }
  return median(times);
}

/** The members' own runtimes called in turn, their probabilities averaged in JS (the unfused option). */
function inTurn(members: DecoderRuntime[]): DecoderRuntime {
  const [first] = members as [DecoderRuntime];
  return {
    runtime: "onnx",
    shape: first.shape,
    maxWords: first.maxWords,
    open(views) {
      const sessions = members.map((m, i) => m.open(views.map((v) => sliceMember(v, members, i))));
      const session: StepSession<unknown[]> = {
        start: (rows) => sessions.map((s) => s.start(rows)),
        step: (state, previous) => {
          const outs = sessions.map((s, i) => s.step(state[i], previous));
          const logProbs = new Float32Array(outs[0]!.logProbs.length);
          for (let k = 0; k < logProbs.length; k++) {
            let max = Number.NEGATIVE_INFINITY;
            for (const o of outs) max = Math.max(max, o.logProbs[k]!);
            let sum = 0;
            for (const o of outs) sum += Math.exp(o.logProbs[k]! - max);
            logProbs[k] = max + Math.log(sum / outs.length);
          }
          return { logProbs, state: outs.map((o) => o.state) };
        },
        gather: (state, rows) => sessions.map((s, i) => s.gather(state[i], rows)),
        release: (state) => {
          sessions.forEach((s, i) => {
            s.release(state[i]);
          });
        },
        close: () => {
          for (const s of sessions) s.close();
        },
      };
      return session as StepSession;
    },
    imageVectors: () => [],
    captionLogProbs: () => new Float32Array(),
    dispose: () => {
      for (const m of members) m.dispose();
    },
  };
}

/** Member i's channels of an ensemble batch (members side by side). */
function sliceMember(v: FeatureBatch, members: DecoderRuntime[], i: number): FeatureBatch {
  const widths = members.map((m) => m.shape.featureDim);
  const pooledWidths = members.map((m) => m.shape.pooledDim);
  const total = widths.reduce((a, b) => a + b, 0);
  const totalPooled = pooledWidths.reduce((a, b) => a + b, 0);
  const offset = widths.slice(0, i).reduce((a, b) => a + b, 0);
  const pooledOffset = pooledWidths.slice(0, i).reduce((a, b) => a + b, 0);
  const { featureDim, pooledDim, regions } = members[i]!.shape;
  const grid = new Float32Array(v.count * regions * featureDim);
  for (let r = 0; r < v.count * regions; r++)
    grid.set(v.grid.subarray(r * total + offset, r * total + offset + featureDim), r * featureDim);
  const pooled = new Float32Array(v.count * pooledDim);
  for (let r = 0; r < v.count; r++)
    pooled.set(
      v.pooled.subarray(r * totalPooled + pooledOffset, r * totalPooled + pooledOffset + pooledDim),
      r * pooledDim,
    );
  return { count: v.count, grid, pooled };
}

await initBackend("wasm");
applyWasmKernelFixes();
const modelDir = values.model ?? defaultModelDir();
const model = await loadModel(modelDir);
const cacheDir = values.cache ?? mkdtempSync(path.join(os.tmpdir(), "captionkit-bench-onnx-"));
console.log(`model ${modelDir} (${model.meta.name}); ${os.cpus().length} cores; graphs in ${cacheDir}`);

let began = performance.now();
const onnx = await createOnnxRuntime(model.decoder, { weightsDigest: model.weightsDigest, cacheDir });
report(
  `onnx runtime ready (${onnx.built ? "graphs built" : "graphs from the cache"})`,
  performance.now() - began,
);
began = performance.now();
const again = await createOnnxRuntime(model.decoder, { weightsDigest: model.weightsDigest, cacheDir });
report("onnx runtime ready, graphs from the cache", performance.now() - began);
again.dispose();
const tfjs = new TfjsRuntime(model.decoder);
const runtimes: [string, DecoderRuntime][] = [
  ["onnx", onnx],
  ["tfjs", tfjs],
];

const one = batch(1, onnx.shape, 1);
const oneMirror = batch(1, onnx.shape, 2);
const many = batch(32, onnx.shape, 3);
const manyMirror = batch(32, onnx.shape, 4);
for (const [name, runtime] of runtimes) {
  report(`${name}: greedy step, 1 image, 1 view`, timeSteps(runtime, [one], 1, false));
  report(`${name}: greedy step, 1 image, 2 views`, timeSteps(runtime, [one, oneMirror], 1, false));
  report(
    `${name}: beam step, 3 beams x 2 views x 32 images`,
    timeSteps(runtime, [many, manyMirror], 3, false),
  );
  report(`${name}: beam step + gather, 3 x 2 x 32`, timeSteps(runtime, [many, manyMirror], 3, true));
  report(`${name}: start (open), 1 image x 2 views`, timeStart(runtime, [one, oneMirror]));
  report(`${name}: start (open), 32 images x 2 views`, timeStart(runtime, [many, manyMirror]));
}

// two intra-op threads pay at large batches on an idle machine, and cost at batch 1 (thread hand-off)
const twoThreads = await createOnnxRuntime(model.decoder, {
  weightsDigest: model.weightsDigest,
  cacheDir,
  stepThreads: 2,
});
report(
  "onnx, 2 step threads: greedy step, 1 image, 2 views",
  timeSteps(twoThreads, [one, oneMirror], 1, false),
);
report("onnx, 2 step threads: beam step, 3 x 2 x 32", timeSteps(twoThreads, [many, manyMirror], 3, false));
twoThreads.dispose();

if (model.decoder instanceof EnsembleDecoder) {
  const members = await Promise.all(
    model.decoder.members.map((m, i) =>
      createOnnxRuntime(m, { weightsDigest: model.weightsDigest.replace(/.$/, String(i)), cacheDir }),
    ),
  );
  const turn = inTurn(members);
  report("onnx members in turn: greedy step, 1 image, 2 views", timeSteps(turn, [one, oneMirror], 1, false));
  report("onnx members in turn: beam step, 3 x 2 x 32", timeSteps(turn, [many, manyMirror], 3, false));
  turn.dispose();
}

onnx.dispose();
model.decoder.dispose();
if (!values.cache) rmSync(cacheDir, { recursive: true, force: true });

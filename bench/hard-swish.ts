/**
 * The encoder with hard-swish / hard-sigmoid as onnxruntime's ops (fuse-hard-swish.ts) against TF's
 * four ops as they were, same process, runs alternated so the machine's drift hits both alike:
 * ms per photo (photo + mirror) at batch 2 (one photo) and 16 (a batch of 8 photos), median and
 * fastest, and the largest difference between their outputs.
 *
 *   npx tsx bench/hard-swish.ts [--encoder centernet_448_block12_grid14] [--rounds 12] [--threads 2]
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { loadOnnxRuntime } from "../src/core/onnxruntime.js";
import { builtinEncoders } from "../src/encoders/builtin.js";
import { tfjsGraphToOnnx } from "../src/encoders/tfjs-to-onnx.js";
import { initTfjs } from "../src/tfjs/init.js";

const { values } = parseArgs({
  options: {
    encoder: { type: "string", default: "centernet_448_block12_grid14" },
    rounds: { type: "string", default: "12" },
    threads: { type: "string", default: "2" },
  },
});
const spec = builtinEncoders[values.encoder];
if (!spec) throw new Error(`no built-in encoder ${values.encoder}`);
const rounds = Number(values.rounds);
const threads = Number(values.threads);
await initTfjs();
const artifacts = await spec.artifacts();
const convert = (fuseActivations: boolean) =>
  tfjsGraphToOnnx(artifacts, { outputs: [spec.gridNode], inputSize: spec.inputSize, fuseActivations });
const ort = await loadOnnxRuntime();
const sessions = await Promise.all(
  [convert(false), convert(true)].map((m) => ort.InferenceSession.create(m, { intraOpNumThreads: threads })),
);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(
  `${spec.name} at ${spec.inputSize}, ${threads} onnxruntime thread(s); load ${os.loadavg()[0]!.toFixed(2)}`,
);
for (const images of [2, 16]) {
  let seed = images;
  const pixels = Float32Array.from({ length: images * spec.inputSize ** 2 * 3 }, () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return (seed / 2147483648) * 255;
  });
  const x = new ort.Tensor("float32", pixels, [images, spec.inputSize, spec.inputSize, 3]);
  const run = async (i: number) => {
    const s = sessions[i]!;
    const t = performance.now();
    const out = await s.run({ [s.inputNames[0]!]: x });
    return { ms: ((performance.now() - t) / images) * 2, y: out[s.outputNames[0]!]!.data as Float32Array };
  };
  const [a, b] = [await run(0), await run(1)]; // warm-up, and the outputs to compare
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < a.y.length; i++) {
    worst = Math.max(worst, Math.abs(a.y[i]! - b.y[i]!));
    scale = Math.max(scale, Math.abs(a.y[i]!));
  }
  const times: [number[], number[]] = [[], []];
  for (let r = 0; r < (images === 2 ? rounds * 3 : rounds); r++)
    for (const i of [0, 1]) times[i]!.push((await run(i)).ms);
  const [old, fused] = times.map(
    (t) => `median ${median(t).toFixed(1)}, fastest ${Math.min(...t).toFixed(1)}`,
  );
  console.log(
    `batch ${images}: TF's ops ${old} ms per photo; fused ${fused}; outputs differ by at most ${worst.toExponential(2)} (values up to ${scale.toFixed(1)}); load ${os.loadavg()[0]!.toFixed(2)}`,
  );
}
for (const s of sessions) await s.release();

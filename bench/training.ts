/**
 * Training throughput (target tokens per second) of one full step: teacher-forced forward, masked
 * cross-entropy, backward, global-norm clipping and an Adam update, on random features and captions.
 *
 *   npx tsx bench/training.ts [--steps N] [--only NAME] [--threads 1,2] [--profile [--by-shape]]
 *                             [--peer PATH | --no-peer] [--peer-threads N]
 *
 * Show-Attend-Tell cases are followed by the PyTorch peer on the same sizes in the same run
 * (../shared/bench/pytorch_sat_peer.py under /usr/bin/python3, when torch is installed: `apt-get install
 * -y python3-torch libopenblas0-pthread`) and the ratio; the load average is printed with each figure.
 * With --threads, the data-parallel path (src/training/workers.ts) is timed instead, for each thread
 * count given, on the --only case (default: transformer 2x256 grid 7x7x1792 b64). --profile prints the
 * wall time per wasm kernel (bench/kernel-profile.ts). CAPTIONKIT_NATIVE_MATMUL=0 keeps every matrix
 * product on wasm; CAPTIONKIT_MATMUL_THREADS sets onnxruntime's intra-op threads (src/tfjs/native-matmul.ts).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Rng } from "../src/core/rng.js";
import { createDecoder } from "../src/decoders/factory.js";
import type { DecoderConfig } from "../src/decoders/types.js";
import { tf } from "../src/tfjs/backend.js";
import { initTfjs } from "../src/tfjs/init.js";
import { nativeMatMulStatus } from "../src/tfjs/native-matmul.js";
import { Adam, globalNormScale } from "../src/training/optimizer.js";
import { computeGradients, disposeGradients } from "../src/training/step.js";
import { startGradientWorkers } from "../src/training/workers.js";
import { profileWasmKernels } from "./kernel-profile.js";

interface Case {
  name: string;
  decoder: DecoderConfig;
  grid: [number, number];
  batch: number;
  tokens: number;
}

const VOCAB = 2533;
const sat = (size: number): DecoderConfig => ({
  kind: "show-attend-tell",
  embedDim: size,
  hiddenDim: size,
  attentionDim: size,
  dropout: 0.5,
});
const transformer = (layers: number, d: number): DecoderConfig => ({
  kind: "transformer",
  layers,
  modelDim: d,
  heads: d / 64,
  feedForwardDim: 4 * d,
  dropout: 0.1,
  maxLength: 24,
});
const cases: Case[] = [
  {
    name: "sat-512 grid 7x7x1792 b32",
    decoder: sat(512),
    grid: [49, 1792],
    batch: 32,
    tokens: 16,
  },
  { name: "sat-512 grid 7x7x1792 b64", decoder: sat(512), grid: [49, 1792], batch: 64, tokens: 16 },
  { name: "sat-384 grid 7x7x480 b64", decoder: sat(384), grid: [49, 480], batch: 64, tokens: 16 },
  {
    name: "transformer 2x256 grid 7x7x1792 b32",
    decoder: transformer(2, 256),
    grid: [49, 1792],
    batch: 32,
    tokens: 16,
  },
  {
    name: "transformer 2x256 grid 7x7x1792 b64",
    decoder: transformer(2, 256),
    grid: [49, 1792],
    batch: 64,
    tokens: 16,
  },
  {
    name: "transformer 3x384 grid 7x7x1792 b64",
    decoder: transformer(3, 384),
    grid: [49, 1792],
    batch: 64,
    tokens: 16,
  },
  {
    name: "transformer 2x256 grid 7x7x480 b64",
    decoder: transformer(2, 256),
    grid: [49, 480],
    batch: 64,
    tokens: 16,
  },
];

function flag(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const load = () =>
  `load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`;

function matmulSetting(): string {
  const status = nativeMatMulStatus();
  return status.enabled
    ? `products >= ${status.minMacs} MACs on onnxruntime, ${status.threads} thread(s)`
    : `all products on wasm (${status.reason})`;
}

/** Data-parallel throughput: the same batches through 1..N threads. */
async function parallel(c: Case, threadCounts: number[], steps: number): Promise<void> {
  const decoderConfig = c.decoder;
  const [regions, featureDim] = c.grid;
  const [batch, length] = [c.batch, c.tokens + 1];
  const shape = { vocabSize: VOCAB, regions, featureDim, pooledDim: featureDim };
  const rng = new Rng(5);
  const entries: [string, { grid: Float32Array; pooled: Float32Array }[]][] = Array.from(
    { length: batch },
    (_, i) => [
      `img${i}`,
      [
        {
          grid: Float32Array.from({ length: regions * featureDim }, () => rng.next()),
          pooled: Float32Array.from({ length: featureDim }, () => rng.next()),
        },
      ],
    ],
  );
  const reader = new Map(entries);
  const captions = Array.from({ length: batch }, () => [
    1,
    ...Array.from({ length: length - 1 }, () => 4 + rng.int(VOCAB - 4)),
    2,
  ]);
  const loss = { labelSmoothing: 0, auxLossWeight: 1 };
  for (const threads of threadCounts) {
    const decoder = createDecoder(decoderConfig, shape, 1);
    const adam = new Adam(decoder.variables, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    const workers = await startGradientWorkers(threads, {
      decoderConfig,
      shape,
      seed: 1,
      features: {
        kind: "memory",
        encoder: "random",
        gridShape: [Math.sqrt(regions), Math.sqrt(regions), featureDim],
        pooledSize: featureDim,
        entries,
      },
      loss,
    });
    const shards = Array.from({ length: threads }, (_, k) => {
      const rows = [...captions.keys()].filter((row) => row % threads === k);
      return {
        ids: rows.map((r) => `img${r}`),
        views: rows.map(() => 0),
        captions: rows.map((r) => captions[r]!),
        dropoutCalls: 0,
      };
    });
    const local = (shard: (typeof shards)[number]) => {
      const grid = new Float32Array(shard.ids.length * regions * featureDim);
      const pooled = new Float32Array(shard.ids.length * featureDim);
      shard.ids.forEach((id, row) => {
        grid.set(reader.get(id)![0]!.grid, row * regions * featureDim);
        pooled.set(reader.get(id)![0]!.pooled, row * featureDim);
      });
      const steps = shard.captions[0]!.length - 1;
      return computeGradients(
        decoder,
        {
          inputs: {
            grid: tf.tensor3d(grid, [shard.ids.length, regions, featureDim]),
            pooled: tf.tensor2d(pooled, [shard.ids.length, featureDim]),
          },
        },
        {
          inputs: tf.tensor2d(
            shard.captions.flatMap((c) => c.slice(0, -1)),
            [shard.ids.length, steps],
            "int32",
          ),
          targets: tf.tensor2d(
            shard.captions.flatMap((c) => c.slice(1)),
            [shard.ids.length, steps],
            "int32",
          ),
          tokenCount: shard.ids.length * steps,
        },
        loss,
      );
    };
    const step = async () => {
      const result = await workers.gradients(decoder, shards, local);
      adam.apply(result.grads, 1e-4, globalNormScale(result.grads, 5).scale);
      disposeGradients(result.grads);
      return result.tokens;
    };
    await step();
    const started = performance.now();
    let tokens = 0;
    for (let i = 0; i < steps; i++) tokens += await step();
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `data-parallel ${c.name}, ${threads} thread(s): ${(tokens / seconds).toFixed(0)} tokens/s (${load()})`,
    );
    await workers.close();
    adam.dispose();
    decoder.dispose();
  }
}

async function main(): Promise<void> {
  await initTfjs("wasm", { nativeMatMul: true });
  console.log(matmulSetting());
  const steps = Number(flag("--steps") ?? 5);
  const only = flag("--only");
  const threadList = flag("--threads");
  if (threadList) {
    const c = cases.find((x) => x.name.includes(only ?? "transformer 2x256 grid 7x7x1792 b64"));
    if (!c) throw new Error(`no case matches ${only}`);
    await parallel(c, threadList.split(",").map(Number), steps);
    return;
  }
  const profile = process.argv.includes("--profile")
    ? profileWasmKernels(process.argv.includes("--by-shape"))
    : undefined;
  const rng = new Rng(3);
  for (const c of cases) {
    if (only && !c.name.includes(only)) continue;
    const [regions, featureDim] = c.grid;
    const decoder = createDecoder(
      c.decoder,
      { vocabSize: VOCAB, regions, featureDim, pooledDim: featureDim },
      1,
    );
    const adam = new Adam(decoder.variables, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    // Random data drawn once, like the peer's: drawing 2.8M numbers per step cost ~350 ms (in the timing
    // until issue 21). Each step still copies the batch into new tensors, as training from a cache does.
    const grid = Float32Array.from({ length: c.batch * regions * featureDim }, () => rng.next());
    const pooled = Float32Array.from({ length: c.batch * featureDim }, () => rng.next());
    const ids = Int32Array.from({ length: c.batch * c.tokens }, (_, i) =>
      i % c.tokens === 0 ? 1 : 4 + rng.int(VOCAB - 4),
    );
    const targets = Int32Array.from({ length: c.batch * c.tokens }, () => 4 + rng.int(VOCAB - 4));
    const batchOf = () => ({
      inputs: {
        grid: tf.tensor3d(grid, [c.batch, regions, featureDim]), // [batch, regions, featureDim]
        pooled: tf.tensor2d(pooled, [c.batch, featureDim]), // [batch, pooledDim]
      },
      batch: {
        inputs: tf.tensor2d(ids, [c.batch, c.tokens], "int32"),
        targets: tf.tensor2d(targets, [c.batch, c.tokens], "int32"),
        tokenCount: c.batch * c.tokens,
      },
    });
    const step = () => {
      const { inputs, batch } = batchOf();
      const result = computeGradients(decoder, { inputs }, batch, { labelSmoothing: 0, auxLossWeight: 1 });
      adam.apply(result.grads, 1e-4, globalNormScale(result.grads, 5).scale);
      disposeGradients(result.grads);
      return result.tokens;
    };
    step(); // warm-up: kernel compilation and first allocations
    profile?.reset();
    const started = performance.now();
    let tokens = 0;
    for (let i = 0; i < steps; i++) tokens += step();
    const seconds = (performance.now() - started) / 1000;
    const params = [...decoder.variables.values()].reduce((sum, v) => sum + v.size, 0);
    const ours = tokens / seconds;
    console.log(
      `${c.name}: ${ours.toFixed(0)} tokens/s (${((seconds / steps) * 1000).toFixed(0)} ms/step, ${(params / 1e6).toFixed(1)}M params, ${load()})`,
    );
    if (profile) console.log(profile.report(steps));
    if (c.decoder.kind === "show-attend-tell") pytorchPeer(c, steps, ours);
    adam.dispose();
    decoder.dispose();
  }
}

/**
 * The PyTorch peer on the same sizes, right after our figure (the load drifts: compare within a run).
 * Its model matches our Show-Attend-Tell 512 (soft attention, gate, LSTM, Adam) but its own embedding,
 * dimensions other than 512 are not passed, so only sat-512 cases are compared.
 */
function pytorchPeer(c: Case, steps: number, ours: number): undefined {
  if (process.argv.includes("--no-peer")) return undefined;
  const skip = (reason: string): undefined => {
    console.log(`  PyTorch peer skipped: ${reason}`);
  };
  if (c.decoder.kind !== "show-attend-tell" || c.decoder.hiddenDim !== 512) return undefined;
  const python = "/usr/bin/python3";
  const script =
    flag("--peer") ?? path.resolve(import.meta.dirname, "../../shared/bench/pytorch_sat_peer.py");
  if (!existsSync(python)) return skip(`${python} not found`);
  if (!existsSync(script)) return skip(`${script} not found (pass --peer PATH)`);
  const probe = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" });
  if (probe.status !== 0)
    return skip(
      "torch is not installed for /usr/bin/python3 (apt-get install -y python3-torch libopenblas0-pthread)",
    );
  const args = [
    script,
    ...["--regions", c.grid[0], "--channels", c.grid[1], "--vocab", VOCAB, "--batch", c.batch],
    ...["--tokens", c.tokens, "--steps", Math.max(steps, 3)],
    ...(flag("--peer-threads") ? ["--threads", flag("--peer-threads") as string] : []),
  ].map(String);
  const run = spawnSync(python, args, { encoding: "utf8" });
  const line = run.stdout.trim().split("\n").pop() ?? "";
  if (run.status !== 0 || !line.startsWith("{"))
    return skip(`the peer failed: ${run.stderr.trim().slice(-300)}`);
  const peer = JSON.parse(line) as { torch: string; threads: number; train_tokens_per_s: number };
  console.log(
    `  PyTorch ${peer.torch} peer, ${peer.threads} thread(s): ${peer.train_tokens_per_s.toFixed(0)} tokens/s (${load()}); captionkit / PyTorch = ${(ours / peer.train_tokens_per_s).toFixed(2)}x`,
  );
}

await main();

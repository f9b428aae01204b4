/**
 * Training throughput (target tokens per second) of one full step: teacher-forced forward, masked
 * cross-entropy, backward, global-norm clipping and an Adam update, on random features and captions.
 *
 *   npx tsx bench/training.ts [--steps N] [--only NAME] [--threads 1,2]
 *
 * With --threads, the data-parallel path (src/training/workers.ts) is timed instead, on the
 * transformer 2x256 with a 7x7x1792 grid at batch 64, for each thread count given.
 *
 * The reference figure (../shared/DESIGN.md): PyTorch 1.13 CPU, the 512/512/512 Show-Attend-Tell decoder
 * on a 7x7x1792 grid with a 2,533-word vocabulary, trains at 509 tokens/s on this machine.
 */

import { Rng } from "../src/core/rng.js";
import { createDecoder } from "../src/decoders/factory.js";
import type { DecoderConfig } from "../src/decoders/types.js";
import { initBackend, tf } from "../src/tfjs/backend.js";
import { applyWasmKernelFixes } from "../src/tfjs/kernel-fixes.js";
import { Adam, clipByGlobalNorm } from "../src/training/optimizer.js";
import { computeGradients, disposeGradients } from "../src/training/step.js";
import { startGradientWorkers } from "../src/training/workers.js";

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
    name: "sat-512 grid 7x7x1792 b32 (PyTorch ref 509)",
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

/** Data-parallel throughput: the same batches through 1..N threads. */
async function parallel(threadCounts: number[], steps: number): Promise<void> {
  const decoderConfig = transformer(2, 256);
  const [regions, featureDim, batch, length] = [49, 1792, 64, 16];
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
        gridShape: [7, 7, featureDim],
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
      clipByGlobalNorm(result.grads, 5);
      adam.apply(result.grads, 1e-4);
      disposeGradients(result.grads);
      return result.tokens;
    };
    await step();
    const started = performance.now();
    let tokens = 0;
    for (let i = 0; i < steps; i++) tokens += await step();
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `data-parallel transformer 2x256 grid 7x7x1792 b64, ${threads} thread(s): ${(tokens / seconds).toFixed(0)} tokens/s`,
    );
    await workers.close();
    adam.dispose();
    decoder.dispose();
  }
}

async function main(): Promise<void> {
  await initBackend("wasm");
  applyWasmKernelFixes();
  const threadList = flag("--threads");
  if (threadList) {
    await parallel(threadList.split(",").map(Number), Number(flag("--steps") ?? 5));
    return;
  }
  const steps = Number(flag("--steps") ?? 5);
  const only = flag("--only");
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
    const batchOf = () => {
      const grid = Float32Array.from({ length: c.batch * regions * featureDim }, () => rng.next());
      const pooled = Float32Array.from({ length: c.batch * featureDim }, () => rng.next());
      const ids = Int32Array.from({ length: c.batch * c.tokens }, (_, i) =>
        i % c.tokens === 0 ? 1 : 4 + rng.int(VOCAB - 4),
      );
      const targets = Int32Array.from({ length: c.batch * c.tokens }, () => 4 + rng.int(VOCAB - 4));
      return {
        inputs: {
          grid: tf.tensor3d(grid, [c.batch, regions, featureDim]), // [batch, regions, featureDim]
          pooled: tf.tensor2d(pooled, [c.batch, featureDim]), // [batch, pooledDim]
        },
        batch: {
          inputs: tf.tensor2d(ids, [c.batch, c.tokens], "int32"),
          targets: tf.tensor2d(targets, [c.batch, c.tokens], "int32"),
          tokenCount: c.batch * c.tokens,
        },
      };
    };
    const step = () => {
      const { inputs, batch } = batchOf();
      const result = computeGradients(decoder, { inputs }, batch, { labelSmoothing: 0, auxLossWeight: 1 });
      clipByGlobalNorm(result.grads, 5);
      adam.apply(result.grads, 1e-4);
      disposeGradients(result.grads);
      return result.tokens;
    };
    step(); // warm-up: kernel compilation and first allocations
    const started = performance.now();
    let tokens = 0;
    for (let i = 0; i < steps; i++) tokens += step();
    const seconds = (performance.now() - started) / 1000;
    const params = [...decoder.variables.values()].reduce((sum, v) => sum + v.size, 0);
    console.log(
      `${c.name}: ${(tokens / seconds).toFixed(0)} tokens/s (${((seconds / steps) * 1000).toFixed(0)} ms/step, ${(params / 1e6).toFixed(1)}M params)`,
    );
    adam.dispose();
    decoder.dispose();
  }
}

await main();

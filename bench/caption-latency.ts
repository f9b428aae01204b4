/**
 * Caption latency end to end (decode image + encode + beam search), p50/p95 for one image, throughput
 * for a batch of 32, and greedy decoding time per caption at batch 1 and 32 with the features already
 * computed (the PyTorch reference in ../shared/DESIGN.md: 50.7 ms per caption at batch 1, 92 captions/s
 * at batch 32, 16 words each).
 *
 *   npx tsx bench/caption-latency.ts [--model DIR] [--memory DIR | --no-prior] [--random [--kind sat|transformer]] [--rounds N] [--flickr8k DIR]
 *
 * --random builds a randomly initialised model of the reference size instead (Show-Attend-Tell
 * 512/512/512, or with --kind transformer 2 layers x 256, on mobilenet_v2_mid 7x7x1792, 2,533 words)
 * in a temp folder. Images are Flickr8k val images
 * when ../shared (or --flickr8k, e.g. from a worktree) is present, synthetic ones otherwise.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadCaptioner } from "../src/captioner/captioner.js";
import { defaultModelDir } from "../src/core/paths.js";
import { SPECIAL_TOKENS } from "../src/data/vocabulary.js";
import { createDecoder } from "../src/decoders/factory.js";
import { selectRows } from "../src/decoders/runtime.js";
import type { DecoderConfig } from "../src/decoders/types.js";
import { createEncoder } from "../src/encoders/registry.js";
import { preprocessBatch } from "../src/image/preprocess.js";
import { saveModel } from "../src/model/single.js";
import { initTfjs } from "../src/tfjs/init.js";
import { valPhotosOrSynthetic } from "./flickr8k-val.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    random: { type: "boolean", default: false },
    kind: { type: "string", default: "sat" },
    rounds: { type: "string", default: "20" },
    memory: { type: "string" },
    "no-prior": { type: "boolean", default: false },
    runtime: { type: "string", default: "onnx" },
    flickr8k: { type: "string" },
  },
});
if (values.runtime !== "onnx" && values.runtime !== "tfjs") throw new Error("--runtime is onnx or tfjs");
const runtime = values.runtime;
const rounds = Number(values.rounds);

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function randomModel(): Promise<string> {
  await initTfjs();
  const dir = mkdtempSync(path.join(os.tmpdir(), "captionkit-bench-model-"));
  const encoder = await createEncoder("mobilenet_v2_mid");
  const words = Array.from({ length: 2533 - SPECIAL_TOKENS.length }, (_, i) => `w${i}`);
  const config: DecoderConfig =
    values.kind === "transformer"
      ? { kind: "transformer", layers: 2, modelDim: 256, heads: 4, feedForwardDim: 1024, dropout: 0.1 }
      : { kind: "show-attend-tell", embedDim: 512, hiddenDim: 512, attentionDim: 512, dropout: 0.5 };
  const decoder = createDecoder(
    config,
    { vocabSize: 2533, regions: 49, featureDim: 1792, pooledDim: 1792 },
    1,
  );
  await saveModel(dir, decoder, {
    name: `random-${values.kind}`,
    encoder: "mobilenet_v2_mid",
    vocabulary: { tokens: [...SPECIAL_TOKENS, ...words], minCount: 5, maxLength: 20 },
    preprocessing: { size: encoder.inputSize, normalization: encoder.normalization, fit: "fill" },
  });
  decoder.dispose();
  encoder.dispose();
  return dir;
}

const temp = values.random ? await randomModel() : undefined;
const modelDir = temp ?? values.model ?? defaultModelDir();
const loadStarted = performance.now();
const captioner = await loadCaptioner({
  modelDir,
  batchSize: 32,
  ...(values.memory ? { memoryDir: values.memory } : {}),
  prior: !values["no-prior"],
  runtime,
});
console.log(
  `loaded in ${(performance.now() - loadStarted).toFixed(0)} ms${captioner.reranking.label ? `, re-ranking with ${captioner.reranking.label}` : ""}`,
);
const batch = await valPhotosOrSynthetic(32, values.flickr8k);
const source = typeof batch[0] === "string" ? "Flickr8k val" : "synthetic";
console.log(
  `model ${captioner.modelName} (${modelDir}), ${source} images, decoder on ${runtime}, ${rounds} rounds`,
);
console.log(
  `machine load average at start: ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);

// 1. one image end to end, beam 3
await captioner.caption([batch[0] as string | Uint8Array], { beam: 3 }); // warm-up
const totals: number[] = [];
const stages = { preprocess: [] as number[], encode: [] as number[], generate: [] as number[] };
for (let r = 0; r < rounds; r++) {
  const image = batch[r % batch.length] as string | Uint8Array;
  const t0 = performance.now();
  await captioner.caption([image], { beam: 3 });
  totals.push(performance.now() - t0);
  stages.preprocess.push(captioner.lastTimings.preprocess);
  stages.encode.push(captioner.lastTimings.encode);
  stages.generate.push(captioner.lastTimings.generate);
}
console.log("\n| one image, beam 3 | p50 ms | p95 ms |");
console.log("| --- | --- | --- |");
console.log(`| end to end | ${percentile(totals, 50).toFixed(1)} | ${percentile(totals, 95).toFixed(1)} |`);
for (const [name, xs] of Object.entries(stages)) {
  console.log(`| ${name} | ${percentile(xs, 50).toFixed(1)} | ${percentile(xs, 95).toFixed(1)} |`);
}

// 2. a batch of 32, beam 3
const t32 = performance.now();
const results = await captioner.caption(batch, { beam: 3 });
const batchMs = performance.now() - t32;
console.log(
  `\nbatch of 32, beam 3: ${batchMs.toFixed(0)} ms = ${((32 * 1000) / batchMs).toFixed(1)} images/s ` +
    `(preprocess ${captioner.lastTimings.preprocess.toFixed(0)} / encode ${captioner.lastTimings.encode.toFixed(0)} / ` +
    `generate ${captioner.lastTimings.generate.toFixed(0)} ms)`,
);
console.log(`example: ${results[0]?.caption} (confidence ${results[0]?.confidence.toFixed(2)})`);

// 3. greedy decoding alone (features computed once), batch 1 and 32, vs the PyTorch reference
const _prepared = await preprocessBatch(batch, {
  size: captioner.preprocessing.size,
  normalization: captioner.preprocessing.normalization,
  fit: captioner.preprocessing.fit,
});
const { views } = await captioner.encodeViews(batch, 1);
const all = views[0]!;
const one = selectRows(all, [0]);
const model = captioner.model;
model.caption([one], { beam: 1 }); // warm-up
const greedyMs: number[] = [];
let words = 0;
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  const [result] = model.caption([one], { beam: 1 });
  greedyMs.push(performance.now() - t0);
  words = result?.tokens.length ?? 0;
}
const t0 = performance.now();
const greedy32 = model.caption([all], { beam: 1 });
const greedy32Ms = performance.now() - t0;
const meanWords = greedy32.reduce((s, r) => s + r.tokens.length, 0) / greedy32.length;
const p50 = percentile(greedyMs, 50);
console.log(
  `\ngreedy decode only, batch 1: p50 ${p50.toFixed(1)} ms per caption (${words} words; ` +
    `${(p50 / (words + 1)).toFixed(2)} ms per step) vs PyTorch 50.7 ms for 16 words: ${(50.7 / p50).toFixed(2)}x`,
);
console.log(
  `greedy decode only, batch 32: ${((32 * 1000) / greedy32Ms).toFixed(1)} captions/s (mean ${meanWords.toFixed(1)} words) vs PyTorch 92 captions/s`,
);
captioner.dispose();
if (temp) rmSync(temp, { recursive: true, force: true });

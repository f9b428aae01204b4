/**
 * Feature extraction throughput, decode included: images/s for Flickr8k train+val with each encoder,
 * runtime (onnxruntime / tfjs wasm) and parallel layout, and the process's peak RSS (worker threads
 * share the process).
 *
 *   npx tsx bench/features.ts [--limit N] [--encoders a,b] [--runtime onnx,tfjs] [--workers 1,2]
 *                             [--threads 2] [--chunk-size N]
 *
 * `--workers 0` runs one encoder on the main thread with `--threads` onnxruntime threads (each
 * value of --threads is one row); worker threads always use one onnxruntime thread each.
 * "images/s" is end to end (worker start-up and model loading included); "steady" counts from the
 * first finished batch, i.e. the rate a long run settles at.
 *
 * Needs ../shared/datasets/flickr8k; the stores go to a temp folder and are deleted afterwards.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadDataset } from "../src/data/load.js";
import type { EncoderRuntime } from "../src/encoders/registry.js";
import { extractFeatures } from "../src/features/extract.js";

const { values } = parseArgs({
  options: {
    limit: { type: "string", default: "0" },
    encoders: { type: "string", default: "mobilenet_v2_mid,centernet_224" },
    runtime: { type: "string", default: "onnx" },
    workers: { type: "string", default: "1,2" },
    threads: { type: "string", default: "2" },
    // small chunks keep both workers busy to the end of a short run (7,000 images / 256 is fine too)
    "chunk-size": { type: "string", default: "64" },
  },
});
const repoRoot = path.resolve(import.meta.dirname, "..");
const datasetFile = path.resolve(repoRoot, "../shared/datasets/flickr8k/captions.tsv");
const dataset = await loadDataset(datasetFile, { split: "train,val" });
const limit = Number(values.limit);
const images = dataset.images
  .slice(0, limit > 0 ? limit : undefined)
  .map((image) => ({ id: image.id, path: image.path }));

console.log(
  `images: ${images.length} (Flickr8k train+val${limit > 0 ? `, first ${limit}` : ""}), cores: ${os.availableParallelism()}, load average ${os.loadavg()[0]!.toFixed(1)}`,
);
console.log(
  "| encoder | runtime | workers | onnx threads | images/s | steady images/s | seconds | peak RSS (MB) |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
const layouts = values.workers.split(",").flatMap((w) => {
  const workers = Number(w);
  // workers use one onnxruntime thread each; only the inline encoder takes --threads
  return workers === 0
    ? values.threads.split(",").map((t) => ({ workers, threads: Number(t) }))
    : [{ workers, threads: 1 }];
});
for (const encoder of values.encoders.split(",")) {
  for (const runtime of values.runtime.split(",") as EncoderRuntime[]) {
    for (const { workers, threads } of layouts) {
      const out = await mkdtemp(path.join(os.tmpdir(), "captionkit-bench-features-"));
      const start = performance.now();
      let first: { at: number; done: number } | undefined;
      await extractFeatures({
        images,
        encoder,
        runtime,
        out,
        dataset: { source: datasetFile, split: "bench" },
        workers,
        threads,
        chunkSize: Number(values["chunk-size"]),
        onProgress: (done) => {
          if (done > 0 && !first) first = { at: performance.now(), done };
        },
      });
      const end = performance.now();
      const seconds = (end - start) / 1000;
      const steady = first ? (images.length - first.done) / ((end - first.at) / 1000) : Number.NaN;
      // maxRSS is the process peak so far (KB), so it only grows across rows
      const rss = process.resourceUsage().maxRSS / 1024;
      const threadCol = runtime === "tfjs" ? "-" : String(threads);
      console.log(
        `| ${encoder} | ${runtime} | ${workers} | ${threadCol} | ${(images.length / seconds).toFixed(1)} | ${steady.toFixed(1)} | ${seconds.toFixed(1)} | ${rss.toFixed(0)} |`,
      );
      await rm(out, { recursive: true, force: true });
    }
  }
}

/**
 * Feature extraction throughput, decode included: images/s for Flickr8k train+val with each encoder,
 * 1 vs 2 worker threads, and the process's peak RSS (worker threads share the process).
 *
 *   npx tsx bench/features.ts [--limit N] [--encoders a,b] [--workers 1,2] [--chunk-size N]
 *
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
import { extractFeatures } from "../src/features/extract.js";

const { values } = parseArgs({
  options: {
    limit: { type: "string", default: "0" },
    encoders: { type: "string", default: "mobilenet_v2_mid,centernet_224" },
    workers: { type: "string", default: "1,2" },
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
console.log("| encoder | workers | images/s | steady images/s | seconds | peak RSS (MB) |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const encoder of values.encoders.split(",")) {
  for (const workers of values.workers.split(",").map(Number)) {
    const out = await mkdtemp(path.join(os.tmpdir(), "captionkit-bench-features-"));
    const start = performance.now();
    let first: { at: number; done: number } | undefined;
    await extractFeatures({
      images,
      encoder,
      out,
      dataset: { source: datasetFile, split: "bench" },
      workers,
      chunkSize: Number(values["chunk-size"]),
      onProgress: (done) => {
        if (done > 0 && !first) first = { at: performance.now(), done };
      },
    });
    const end = performance.now();
    const seconds = (end - start) / 1000;
    const steady = first ? (images.length - first.done) / ((end - first.at) / 1000) : Number.NaN;
    // maxRSS is the process peak so far (KB); runs go from small to large worker counts
    const rss = process.resourceUsage().maxRSS / 1024;
    console.log(
      `| ${encoder} | ${workers} | ${(images.length / seconds).toFixed(1)} | ${steady.toFixed(1)} | ${seconds.toFixed(1)} | ${rss.toFixed(0)} |`,
    );
    await rm(out, { recursive: true, force: true });
  }
}

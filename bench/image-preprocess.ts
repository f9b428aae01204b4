/**
 * Decode + orient + resize + normalise throughput on Flickr8k, plain and augmented.
 *   npx tsx bench/image-preprocess.ts [--n 500] [--size 224] [--all] [--no-sharp-cache]
 * --all decodes every image once with the default policy and lists any that fail.
 * --no-sharp-cache turns libvips' operation cache off (each image is seen once, so it only holds memory).
 */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import sharp from "sharp";
import {
  augmentSeed,
  DEFAULT_AUGMENT_CONFIG,
  preprocessBatch,
  preprocessImage,
  sampleAugmentParams,
} from "../src/image/index.js";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const n = flag("--n", 500);
const size = flag("--size", 224);
const imagesDir = resolve(import.meta.dirname, "../../shared/datasets/flickr8k/images");
if (!existsSync(imagesDir)) {
  console.log(`skipped: ${imagesDir} not found`);
  process.exit(0);
}
const all = readdirSync(imagesDir)
  .filter((f) => f.endsWith(".jpg"))
  .sort()
  .map((f) => join(imagesDir, f));
const normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as {
  mean: [number, number, number];
  std: [number, number, number];
};

async function timeIt(label: string, count: number, body: () => Promise<void>) {
  const started = performance.now();
  await body();
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${label}: ${count} images in ${seconds.toFixed(2)} s = ${(count / seconds).toFixed(1)} images/s`,
  );
}

if (args.includes("--no-sharp-cache")) sharp.cache(false);
const files = all.slice(0, n);
// Warm the page cache and sharp so the first timing is not a disk benchmark.
await preprocessBatch(files, { size, normalization, concurrency: 4 });

await timeIt(`sequential, size ${size}`, files.length, async () => {
  for (const f of files) await preprocessImage(f, { size, normalization });
});
for (const concurrency of [2, 4]) {
  await timeIt(`preprocessBatch concurrency ${concurrency}, batches of 32`, files.length, async () => {
    for (let i = 0; i < files.length; i += 32) {
      await preprocessBatch(files.slice(i, i + 32), { size, normalization, concurrency });
    }
  });
}
await timeIt("augmented (default config), sequential", files.length, async () => {
  for (const f of files) {
    const augment = sampleAugmentParams(DEFAULT_AUGMENT_CONFIG, augmentSeed(0, f, 0));
    await preprocessImage(f, { size, normalization, augment });
  }
});
await timeIt("augmented, batches of 32, concurrency 4", files.length, async () => {
  for (let i = 0; i < files.length; i += 32) {
    const batch = files.slice(i, i + 32);
    const augment = batch.map((f) => sampleAugmentParams(DEFAULT_AUGMENT_CONFIG, augmentSeed(0, f, 0)));
    await preprocessBatch(batch, { size, normalization, concurrency: 4, augment });
  }
});

if (args.includes("--all")) {
  let failed = 0;
  await timeIt(`all ${all.length} Flickr8k images, concurrency 4`, all.length, async () => {
    for (let i = 0; i < all.length; i += 64) {
      const batch = await preprocessBatch(all.slice(i, i + 64), { size, normalization, concurrency: 4 });
      for (const e of batch.errors) {
        if (e) {
          failed++;
          console.log(`  failed: ${e.code} ${e.message}`);
        }
      }
    }
  });
  console.log(`decode failures: ${failed} of ${all.length}`);
}
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);

/**
 * Decode + orient + resize + normalise on Flickr8k: latency of one image and its mirror (what a
 * mirroring captioner does per photo), then throughput, plain and augmented.
 *   npx tsx bench/image-preprocess.ts [--n 500] [--size 224] [--all] [--no-sharp-cache] [--baseline FILE] [--images DIR]
 * --all decodes every image once with the default policy and lists any that fail.
 * --no-sharp-cache turns libvips' operation cache off (each image is seen once, so it only holds memory).
 * --baseline FILE: another version's src/image/index.ts (e.g. from `git archive`), timed in the same
 * run, alternating image by image with this one, for a fair ratio on a shared machine.
 * --images DIR: the Flickr8k images folder (default ../shared/datasets/flickr8k/images).
 */
import { existsSync, readdirSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import sharp from "sharp";
import * as image from "../src/image/index.js";

const { augmentSeed, DEFAULT_AUGMENT_CONFIG, preprocessBatch, preprocessImage, sampleAugmentParams } = image;

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const n = flag("--n", 500);
const baselineAt = args.indexOf("--baseline");
const size = flag("--size", 224);
const imagesAt = args.indexOf("--images");
const imagesDir =
  imagesAt >= 0
    ? resolve(args[imagesAt + 1]!)
    : resolve(import.meta.dirname, "../../shared/datasets/flickr8k/images");
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
console.log(
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}, sharp concurrency ${sharp.concurrency()}`,
);
// Warm the page cache and sharp so the first timing is not a disk benchmark.
await preprocessBatch(files, { size, normalization, concurrency: 4 });

type ImageModule = Pick<typeof image, "preprocessBatch" | "mirrorInto">;
/**
 * One photo and its mirror image as the captioner prepares them, [image | mirror] in one array. A
 * version without BatchOptions.out (the baseline) returns its own array, copied in as the captioner did.
 */
async function viewAndMirror(lib: ImageModule, file: string, side: number): Promise<Float32Array> {
  const per = side * side * 3;
  const pixels = new Float32Array(2 * per);
  const { data } = await lib.preprocessBatch([file], { size: side, normalization, out: pixels });
  if (data !== pixels) pixels.set(data);
  lib.mirrorInto(pixels, 1, side, pixels.subarray(per));
  return pixels;
}
const versions: [string, ImageModule][] = [["this version", image]];
if (baselineAt >= 0) versions.push(["baseline", await import(resolve(args[baselineAt + 1]!))]);
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// 448 is the default model's input (CenterNet at twice the 224-pixel photo); the photos are 224 px.
for (const side of [...new Set([size, 448])]) {
  const times = versions.map(() => [] as number[]);
  let identical = true;
  for (const file of files.slice(0, 200)) {
    const outputs: Float32Array[] = [];
    for (const [v, [, lib]] of versions.entries()) {
      const started = performance.now();
      outputs.push(await viewAndMirror(lib, file, side));
      times[v]!.push(performance.now() - started);
    }
    if (outputs[1] && Buffer.compare(Buffer.from(outputs[0]!.buffer), Buffer.from(outputs[1].buffer)) !== 0)
      identical = false;
  }
  const line = versions.map(([name], v) => `${name} p50 ${p50(times[v]!).toFixed(2)} ms`).join(", ");
  const same = versions.length > 1 ? `; outputs ${identical ? "bit-identical" : "DIFFER"}` : "";
  console.log(`one image + mirror at ${side}: ${line}${same}`);
}

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

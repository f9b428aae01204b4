/**
 * Where one photo's preprocessing time goes, stage by stage: p50 over the first --n Flickr8k val
 * photos at --size (448: the default model, CenterNet at twice the 224-pixel photos, fit "fill"), each
 * stage timed on its own, then the whole of what the captioner times as `preprocess` (allocate
 * [image | mirror], preprocessBatch, mirror).
 *   npx tsx bench/preprocess-stages.ts [--n 100] [--size 448] [--flickr8k DIR] [--baseline FILE]
 * --baseline FILE: another version's src/image/index.ts (e.g. from `git archive`), whose whole is timed
 * in the same run, alternating photo by photo, and whose output is compared with this one's.
 */
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import * as image from "../src/image/index.js";
import { BYTE_RANGE } from "../src/image/normalization.js";
import { enlargementMatchesSharp, enlargeRgb } from "../src/image/upsample.js";
import { flickr8kDir, readFlickr8kVal } from "./flickr8k-val.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "100" },
    size: { type: "string", default: "448" },
    flickr8k: { type: "string" },
    baseline: { type: "string" },
  },
});
const size = Number(values.size);
const flickr = flickr8kDir(values.flickr8k);
const val = readFlickr8kVal(flickr, Number(values.n));
if (!val) {
  console.log(`skipped: no Flickr8k val split in ${flickr}`);
  process.exit(0);
}
const files = val.names.map((name) => path.join(flickr, "images", name));
const per = image.imageLength(size);
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as image.Normalization;
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

type ImageModule = Pick<typeof image, "preprocessBatch" | "mirrorInto">;
const baseline: ImageModule | undefined = values.baseline
  ? await import(path.resolve(values.baseline))
  : undefined;

/** What the captioner's `preprocess` timing covers for one photo with mirroring on. */
async function whole(lib: ImageModule, file: string, old: boolean): Promise<Float32Array> {
  const all = new Float32Array(2 * per);
  const options = { size, normalization: BYTE_RANGE, fit: "fill" as const, out: all };
  if (old) {
    await lib.preprocessBatch([file], options);
    lib.mirrorInto(all, 1, size, all.subarray(per));
  } else await lib.preprocessBatch([file], { ...options, mirror: true });
  return all;
}

const times = new Map<string, number[]>();
async function time<T>(stage: string, body: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  const result = await body();
  const list = times.get(stage) ?? [];
  list.push(performance.now() - started);
  times.set(stage, list);
  return result;
}

console.log(
  `${files.length} Flickr8k val photos at ${size}, sharp concurrency ${sharp.concurrency()}, ` +
    `libvips ${sharp.versions.vips}, load ${load()} (uptime at start)`,
);
if (!(await enlargementMatchesSharp())) console.log("WARNING: enlargeRgb does not match this sharp");
const warm = new Float32Array(2 * per);
let identical = true;
// round 0 warms the page cache, sharp and the JIT; round 1 is timed
for (const round of [0, 1]) {
  if (round === 1) times.clear();
  for (const file of files) {
    const bytes = await time("read file (fs.readFile)", () => readFile(file));
    await time("probe: sharp metadata()", () => image.probeImage(bytes));
    const raw = await time("decode: sharp raw, no resize", () =>
      sharp(bytes).raw().toBuffer({ resolveWithObject: true }),
    );
    const { width, height } = raw.info;
    const rawInput = { raw: { width, height, channels: 3 as const } };
    for (const threads of [1, 2]) {
      sharp.concurrency(threads);
      await time(`resize in libvips from decoded pixels, ${threads} thread(s)`, () =>
        sharp(raw.data, rawInput).resize(size, size, { fit: "fill" }).raw().toBuffer(),
      );
    }
    sharp.concurrency(1);
    await time("  same, kernel nearest (libvips' pipeline floor)", () =>
      sharp(raw.data, rawInput).resize(size, size, { fit: "fill", kernel: "nearest" }).raw().toBuffer(),
    );
    await time("decode + resize in one sharp pipeline (before)", () =>
      sharp(bytes).resize(size, size, { fit: "fill" }).raw().toBuffer(),
    );
    await time("enlargeRgb (WebAssembly), image only", () => {
      enlargeRgb(raw.data, width, height, size, size);
    });
    const { rgb, mirrored } = await time("enlargeRgb (WebAssembly), image + mirror", () =>
      enlargeRgb(raw.data, width, height, size, size, true),
    );
    await time("normalise 0-255 (identity: typed-array set) x2", () => {
      image.normalizeInto(rgb, BYTE_RANGE, warm, 0);
      image.normalizeInto(mirrored!, BYTE_RANGE, warm, per);
    });
    await time("normalise ImageNet (table lookup, before) x1", () =>
      image.normalizeInto(rgb, IMAGENET, warm, 0),
    );
    await time("mirrorInto on floats (before)", () => image.mirrorInto(warm, 1, size, warm.subarray(per)));
    await time("allocate [image | mirror] float32 + first touch", () => new Float32Array(2 * per).fill(0));
  }
}
// the whole on its own (the stages above churn memory), alternating photo by photo with the baseline
for (const round of [0, 1]) {
  for (const file of files) {
    const mine = await time(`WHOLE captioner preprocess, this version${round ? "" : " (warm-up)"}`, () =>
      whole(image, file, false),
    );
    if (!baseline) continue;
    const theirs = await time(`WHOLE captioner preprocess, baseline${round ? "" : " (warm-up)"}`, () =>
      whole(baseline, file, true),
    );
    if (Buffer.compare(Buffer.from(mine.buffer), Buffer.from(theirs.buffer)) !== 0) identical = false;
  }
}
for (const stage of [...times.keys()]) if (stage.endsWith("(warm-up)")) times.delete(stage);
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;
console.log("\n| stage (one photo) | p50 ms | p90 ms |\n| --- | --- | --- |");
for (const [stage, list] of times)
  console.log(`| ${stage} | ${p50(list).toFixed(2)} | ${p90(list).toFixed(2)} |`);
if (baseline)
  console.log(`\noutputs of this version and the baseline: ${identical ? "bit-identical" : "DIFFER"}`);
console.log(`load at end ${load()}`);

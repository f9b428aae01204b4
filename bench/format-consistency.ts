/**
 * Does the caption depend on how a photo was saved? Each of N Flickr8k val photos is saved as PNG,
 * WebP (quality 90), a CMYK JPEG and an EXIF-rotated JPEG (pixels turned 90 degrees, orientation tag
 * 6 to turn them back), with sharp, into a temp folder. For each copy it prints how far the
 * preprocessed pixels (the model's input, 0..1) are from the original JPEG's, then how often the
 * default model's caption differs from the original's.
 *
 *   npx tsx bench/format-consistency.ts [--count 100] [--model DIR] [--pixels-only] [--flickr8k DIR]
 *
 * Differences that remain once the pixels agree are the model's sensitivity (JPEG/WebP
 * re-compression changes pixels a little; a good model should not change its caption for that).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { loadCaptioner } from "../src/captioner/captioner.js";
import { defaultModelDir } from "../src/core/paths.js";
import { resizedRgb } from "../src/image/preprocess.js";
import { flickr8kDir, readFlickr8kVal } from "./flickr8k-val.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "100" },
    model: { type: "string" },
    "pixels-only": { type: "boolean", default: false },
    flickr8k: { type: "string" },
  },
});
const count = Number(values.count);
const flickr = flickr8kDir(values.flickr8k);
const val = readFlickr8kVal(flickr, count);
if (!val) {
  console.log(`skipped: no Flickr8k at ${flickr}`);
  process.exit(0);
}
const { names } = val;
const originals = names.map((name) => path.join(flickr, "images", name));

// "jpeg" (the photo saved again at quality 95) is the control: what re-compression alone changes
type Variant = "jpeg" | "png" | "webp" | "cmyk-jpeg" | "exif-rotated-jpeg";
const VARIANTS: Variant[] = ["jpeg", "png", "webp", "cmyk-jpeg", "exif-rotated-jpeg"];

/** The copy of one photo in one format, as a user's tools would save it. */
async function saveAs(original: string, variant: Variant): Promise<Buffer> {
  // autoOrient: the copy shows what the original shows, whatever its own EXIF says
  const upright = sharp(original).autoOrient();
  if (variant === "jpeg") return upright.jpeg({ quality: 95 }).toBuffer();
  if (variant === "png") return upright.png().toBuffer();
  if (variant === "webp") return upright.webp({ quality: 90 }).toBuffer();
  if (variant === "cmyk-jpeg") return upright.toColourspace("cmyk").jpeg({ quality: 95 }).toBuffer();
  // stored turned 90 degrees counter-clockwise; orientation 6 tells viewers to turn it clockwise
  const uprightPixels = await upright.png().toBuffer();
  return sharp(uprightPixels).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
}

const modelDir = values.model ?? defaultModelDir();
const spec = readSpec(modelDir);
const tmp = mkdtempSync(path.join(os.tmpdir(), "captionkit-formats-"));
const files = new Map<Variant, string[]>(VARIANTS.map((v) => [v, []]));
const diffs = new Map<Variant, { mean: number[]; max: number[] }>(
  VARIANTS.map((v) => [v, { mean: [], max: [] }]),
);
try {
  for (const [i, original] of originals.entries()) {
    const reference = await resizedRgb(original, {
      size: spec.size,
      normalization: spec.normalization,
      fit: spec.fit,
    });
    for (const variant of VARIANTS) {
      const bytes = await saveAs(original, variant);
      const file = path.join(
        tmp,
        `${i}-${variant}.${variant === "png" || variant === "webp" ? variant : "jpg"}`,
      );
      await writeFile(file, bytes);
      files.get(variant)!.push(file);
      const rgb = await resizedRgb(file, {
        size: spec.size,
        normalization: spec.normalization,
        fit: spec.fit,
      });
      let sum = 0;
      let max = 0;
      for (let j = 0; j < rgb.length; j++) {
        const d = Math.abs(rgb[j]! - reference[j]!) / 255;
        sum += d;
        if (d > max) max = d;
      }
      diffs.get(variant)!.mean.push(sum / rgb.length);
      diffs.get(variant)!.max.push(max);
    }
  }
  console.log(
    `${originals.length} Flickr8k val photos, preprocessed at ${spec.size} (${spec.fit}) like ${path.basename(modelDir)}`,
  );
  console.log(
    "| copy | mean abs pixel difference (0..1) | worst photo's mean | 99th percentile photo's max |",
  );
  console.log("| --- | --- | --- | --- |");
  for (const variant of VARIANTS) {
    const d = diffs.get(variant)!;
    console.log(
      `| ${variant} | ${avg(d.mean).toFixed(4)} | ${Math.max(...d.mean).toFixed(4)} | ${percentile(d.max, 0.99).toFixed(3)} |`,
    );
  }
  if (!values["pixels-only"]) await compareCaptions();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

async function compareCaptions(): Promise<void> {
  const captioner = await loadCaptioner({ modelDir });
  try {
    const started = Date.now();
    const reference = (await captioner.caption(originals)).map((r) => r.caption);
    console.log(`\n| copy | caption differs from the original's | word overlap when it differs |`);
    console.log("| --- | --- | --- |");
    for (const variant of VARIANTS) {
      const captions = (await captioner.caption(files.get(variant)!)).map((r) => r.caption);
      const changed = captions.map((c, i) => c !== reference[i]);
      const overlaps = captions.flatMap((c, i) => (changed[i] ? [overlap(c, reference[i]!)] : []));
      const n = changed.filter(Boolean).length;
      console.log(
        `| ${variant} | ${n} of ${captions.length} (${((100 * n) / captions.length).toFixed(0)}%) | ${n ? avg(overlaps).toFixed(2) : "-"} |`,
      );
      const example = changed.indexOf(true);
      if (example >= 0) console.log(`|   e.g. | "${reference[example]}" -> "${captions[example]}" | |`);
    }
    console.log(
      `\n${((Date.now() - started) / 1000).toFixed(0)} s for ${originals.length * (VARIANTS.length + 1)} captions`,
    );
  } finally {
    captioner.dispose();
  }
}

function readSpec(dir: string): {
  size: number;
  normalization: { mean: [number, number, number]; std: [number, number, number] };
  fit: "fill" | "cover";
} {
  const json = JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8"));
  // an ensemble folder lists members, which share one preprocessing
  const model = json.members
    ? JSON.parse(readFileSync(path.join(dir, json.members[0], "model.json"), "utf8"))
    : json;
  return { fit: "fill", ...model.preprocessing };
}

/** Share of the words of a that b has too (bags of lower-case words). */
function overlap(a: string, b: string): number {
  const words = (s: string) => s.toLowerCase().match(/[a-z]+/g) ?? [];
  const bw = new Set(words(b));
  const aw = words(a);
  return aw.filter((w) => bw.has(w)).length / Math.max(1, aw.length);
}

function avg(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
}

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

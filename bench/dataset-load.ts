// Times loadDataset on synthetic files at MSCOCO scale (123,287 images x 5 captions, the size of
// Karpathy's dataset_coco.json), for each JSON format and the TSV. Images are not on disk, so the
// on-disk check is timed separately on a folder of empty files.
// Run: npx tsx bench/dataset-load.ts
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadDataset } from "../src/data/load.js";

const IMAGES = 123_287;
const PER_IMAGE = 5;
const dir = mkdtempSync(path.join(os.tmpdir(), "captionkit-bench-data-"));
const words = ["a", "man", "riding", "wave", "on", "top", "of", "surfboard", "dog", "the", "street", "red"];
const caption = (i: number, j: number): string =>
  Array.from({ length: 10 }, (_, k) => words[(i * 7 + j * 3 + k * 5) % words.length]).join(" ");
const name = (i: number): string => `COCO_train2014_${String(i).padStart(12, "0")}.jpg`;

function write(file: string, content: string): string {
  const full = path.join(dir, file);
  writeFileSync(full, content);
  return full;
}

const ids = Array.from({ length: IMAGES }, (_, i) => i);
const files = {
  karpathy: write(
    "dataset_coco.json",
    JSON.stringify({
      images: ids.map((i) => ({
        filepath: "train2014",
        filename: name(i),
        split: i % 25 === 0 ? "val" : "train",
        cocoid: i,
        sentences: Array.from({ length: PER_IMAGE }, (_, j) => ({ raw: caption(i, j) })),
      })),
    }),
  ),
  coco: write(
    "captions_train2014.json",
    JSON.stringify({
      images: ids.map((i) => ({ id: i, file_name: name(i) })),
      annotations: ids.flatMap((i) =>
        Array.from({ length: PER_IMAGE }, (_, j) => ({ image_id: i, caption: caption(i, j) })),
      ),
    }),
  ),
  tsv: write(
    "captions.tsv",
    ids
      .flatMap((i) => Array.from({ length: PER_IMAGE }, (_, j) => `${name(i)}\t${j}\t${caption(i, j)}`))
      .join("\n"),
  ),
  jsonl: write(
    "captions.jsonl",
    ids
      .map((i) =>
        JSON.stringify({
          image: name(i),
          captions: Array.from({ length: PER_IMAGE }, (_, j) => caption(i, j)),
        }),
      )
      .join("\n"),
  ),
};

for (const [format, file] of Object.entries(files)) {
  const start = performance.now();
  const dataset = await loadDataset(file, { checkImages: false });
  const ms = performance.now() - start;
  console.log(`${format.padEnd(9)} ${dataset.images.length} images  ${ms.toFixed(0)} ms`);
}

const imageDir = path.join(dir, "images");
mkdirSync(imageDir);
for (const i of ids) writeFileSync(path.join(imageDir, name(i)), "");
const start = performance.now();
const checked = await loadDataset(files.tsv, { images: imageDir });
console.log(
  `tsv + on-disk check of ${checked.images.length} images  ${(performance.now() - start).toFixed(0)} ms`,
);
rmSync(dir, { recursive: true, force: true });

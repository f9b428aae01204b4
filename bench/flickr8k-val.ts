import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { packageRoot } from "../src/core/paths.js";
import { createEncoder } from "../src/encoders/registry.js";
import { preprocessBatch } from "../src/image/preprocess.js";
import type { JointEmbedding } from "../src/search/embedding/model.js";

/** The Flickr8k folder the benches read: --flickr8k, else ../shared next to the package. */
export function flickr8kDir(given: string | undefined): string {
  return given ?? path.join(packageRoot(), "../shared/datasets/flickr8k");
}

/** The val split's photo names (the first `count`, when given) and their captions; undefined when absent. */
export function readFlickr8kVal(
  flickr: string,
  count?: number,
): { names: string[]; captions: Map<string, string[]> } | undefined {
  if (!existsSync(path.join(flickr, "splits/val.txt"))) return undefined;
  const all = readFileSync(path.join(flickr, "splits/val.txt"), "utf8").split(/\s+/).filter(Boolean);
  const names = count === undefined ? all : all.slice(0, count);
  const captions = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const line of readFileSync(path.join(flickr, "captions.tsv"), "utf8").split("\n")) {
    const [image, , text] = line.split("\t");
    if (image && text) captions.get(image)?.push(text);
  }
  return { names, captions };
}

/** The first `count` Flickr8k val photos' paths when the data is there, else as many synthetic JPEGs. */
export async function valPhotosOrSynthetic(count: number, given?: string): Promise<(string | Uint8Array)[]> {
  const flickr = path.resolve(flickr8kDir(given));
  if (existsSync(path.join(flickr, "splits/val.txt"))) {
    const names = readFileSync(path.join(flickr, "splits/val.txt"), "utf8").split("\n").filter(Boolean);
    return names.slice(0, count).map((name) => path.join(flickr, "images", name));
  }
  return Promise.all(
    Array.from({ length: count }, (_, i) => {
      const pixels = Buffer.alloc(320 * 240 * 3);
      for (let p = 0; p < pixels.length; p++) pixels[p] = (p * (i + 3) + Math.floor(p / 960) * 7) % 256;
      return sharp(pixels, { raw: { width: 320, height: 240, channels: 3 } })
        .jpeg()
        .toBuffer();
    }),
  );
}

/** readFlickr8kVal, or the process ends, printing why it skipped, when the data is not there. */
export function flickr8kValOrSkip(
  given: string | undefined,
  count?: number,
): { flickr: string; names: string[]; captions: Map<string, string[]> } {
  const flickr = flickr8kDir(given);
  const val = readFlickr8kVal(flickr, count);
  if (!val) {
    console.log(`skipped: no Flickr8k at ${flickr}`);
    process.exit(0);
  }
  return { flickr, ...val };
}

/** The joint embedding's pooled image input for each photo, [names, imageDim], encoded 16 at a time. */
export async function embeddingInputs(
  model: JointEmbedding,
  flickr: string,
  names: readonly string[],
): Promise<Float32Array> {
  const encoder = await createEncoder(model.config.encoder);
  const pooled = new Float32Array(names.length * model.imageDim);
  for (let start = 0; start < names.length; start += 16) {
    const batch = names.slice(start, start + 16).map((n) => path.join(flickr, "images", n));
    const { data, errors } = await preprocessBatch(batch, {
      size: encoder.inputSize,
      normalization: encoder.normalization,
    });
    if (errors.some(Boolean)) throw errors.find(Boolean);
    pooled.set((await encoder.encode(data, batch.length)).pooled, start * model.imageDim);
  }
  encoder.dispose();
  return pooled;
}

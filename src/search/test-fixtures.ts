import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { openDatabase } from "./db/schema.js";
import { PhotoStore } from "./db/store.js";
import { saveJointEmbedding } from "./embedding/io.js";
import { JointEmbedding } from "./embedding/model.js";
import { TextFeaturizer } from "./embedding/text-features.js";
import { type IndexOptions, type IndexSummary, indexFolder } from "./indexer.js";
import { loadEmbeddingWithId } from "./models.js";
import type { ImageFeatures, IndexPipeline, PipelineInput, ProcessedImage } from "./pipeline.js";

/** Test-only helpers: coloured images whose right caption and right search answer are known. */
export const COLOURS: Record<string, [number, number, number]> = {
  red: [220, 20, 20],
  green: [20, 200, 40],
  blue: [30, 40, 220],
  yellow: [230, 220, 30],
};

export async function tempDir(prefix = "captionkit-search-"): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** A 32x32 PNG of one colour. */
export async function writeColourImage(file: string, rgb: [number, number, number]): Promise<void> {
  const pixels = Buffer.alloc(32 * 32 * 3);
  for (let i = 0; i < pixels.length; i += 3) pixels.set(rgb, i);
  await writeFile(
    file,
    await sharp(pixels, { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

/**
 * A stand-in for encoder + caption model: pooled = mean RGB / 255, grid = the 4 quadrant means,
 * caption = "a <nearest colour name> square". Counts how many images it was asked to process.
 */
export class ColourPipeline implements IndexPipeline {
  readonly captionModel = "colour-test";
  readonly embeddingModel: string | undefined;
  processed = 0;

  private readonly embedding: JointEmbedding | undefined;

  constructor(
    embedding?: JointEmbedding | { model: JointEmbedding; id: string },
    private readonly delayMs = 0,
  ) {
    if (embedding instanceof JointEmbedding) {
      this.embedding = embedding;
      this.embeddingModel = "colour-embedding";
    } else {
      this.embedding = embedding?.model;
      this.embeddingModel = embedding?.id;
    }
  }

  async process(inputs: PipelineInput[]): Promise<(ProcessedImage | Error)[]> {
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return Promise.all(
      inputs.map(async (input) => {
        try {
          const { data } = await sharp(input.bytes)
            .resize(2, 2)
            .removeAlpha()
            .raw()
            .toBuffer({ resolveWithObject: true });
          const grid = Float32Array.from(data, (v) => v / 255); // [4 regions, 3]
          const pooled = new Float32Array(3);
          for (let i = 0; i < grid.length; i++) pooled[i % 3]! += grid[i]! / 4;
          this.processed++;
          const features: ImageFeatures[] = [{ encoder: "colour", pooled, grid, regions: 4 }];
          return { caption: `A ${nearestColour(pooled)} square.`, confidence: 0.9, features };
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
      }),
    );
  }

  embed(features: ImageFeatures[]): Float32Array | undefined {
    const f = features.find((x) => x.encoder === "colour");
    return f && this.embedding ? this.embedding.searchVector(f.pooled) : undefined;
  }

  dispose(): void {}
}

export function nearestColour(rgb: Float32Array): string {
  let best = "";
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const [name, c] of Object.entries(COLOURS)) {
    const d = c.reduce((sum, v, i) => sum + (v / 255 - rgb[i]!) ** 2, 0);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/**
 * A hand-set joint embedding over RGB: the image side is the identity on centred colour, the text
 * side maps each colour word to that colour, so cosine ranking has a known right answer.
 */
export function colourEmbedding(): JointEmbedding {
  const names = Object.keys(COLOURS);
  const model = JointEmbedding.init(
    { encoder: "colour", imageParts: [3], imageHidden: [], wordDim: 3, textHidden: [], jointDim: 3 },
    new TextFeaturizer({ terms: names }),
  );
  model.param("image/mean").values.fill(0.5);
  model.param("image/dense0/w").values.set([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  model.param("image/dense0/b").values.fill(0);
  model.param("text/dense0/w").values.set([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  model.param("text/dense0/b").values.fill(0);
  names.forEach((name, row) => {
    model.param("text/words").values.set(
      COLOURS[name]!.map((v) => v / 255 - 0.5),
      row * 3,
    );
  });
  return model;
}

/**
 * A temp folder of the colour squares, indexed into `photos.sqlite` beside them with the colour
 * embedding (saved in `embedding/`, and recorded as the index's embedding model).
 */
export async function indexedColours(
  options: IndexOptions = {},
): Promise<{ dir: string; db: string; modelDir: string; summary: IndexSummary }> {
  const dir = await tempDir();
  for (const [name, rgb] of Object.entries(COLOURS))
    await writeColourImage(path.join(dir, `${name}.png`), rgb);
  const modelDir = path.join(dir, "embedding");
  await saveJointEmbedding(colourEmbedding(), modelDir);
  const embedding = await loadEmbeddingWithId(modelDir);
  const db = path.join(dir, "photos.sqlite");
  const store = new PhotoStore(openDatabase(db));
  const summary = await indexFolder(store, dir, new ColourPipeline(embedding), options);
  store.setMeta("embedding_model_dir", modelDir);
  store.db.close();
  return { dir, db, modelDir, summary };
}

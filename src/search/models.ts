import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { defaultEmbeddingDir } from "../core/paths.js";
import { loadJointEmbedding } from "./embedding/io.js";
import type { JointEmbedding } from "./embedding/model.js";
import type { ImageFeatures } from "./pipeline.js";

export const DEFAULT_EMBEDDING_DIR = defaultEmbeddingDir();

export interface LoadedEmbedding {
  model: JointEmbedding;
  /** Content hash of the model files: the index stores it beside each vector to spot a model change. */
  id: string;
  dir: string;
}

export async function loadEmbeddingWithId(dir: string): Promise<LoadedEmbedding> {
  const model = await loadJointEmbedding(dir);
  const hash = createHash("sha256");
  for (const file of ["model.json", "weights.f16.bin"]) hash.update(await readFile(path.join(dir, file)));
  return {
    model,
    id: `${path.basename(path.resolve(dir))}@${hash.digest("hex").slice(0, 12)}`,
    dir: path.resolve(dir),
  };
}

/** An image's search vector from its features of the embedding's encoder (undefined without them). */
export function embedFeatures(
  embedding: LoadedEmbedding | undefined,
  features: readonly ImageFeatures[],
): Float32Array | undefined {
  const f = embedding && features.find((x) => x.encoder === embedding.model.config.encoder);
  return f ? embedding.model.searchVector(f.pooled) : undefined;
}

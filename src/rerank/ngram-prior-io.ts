import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../core/atomic.js";
import { float16ToFloat32, float32ToFloat16 } from "../core/float16.js";
import { DEFAULT_PRIOR_SETTINGS, NgramPrior, type NgramPriorData } from "./ngram-prior.js";

export const PRIOR_FORMAT = "captionkit-ngram-prior";
/** A prior lives in its model's folder under these names, and is used whenever the model is loaded. */
export const PRIOR_FILE = "ngram-prior.json";
export const PRIOR_WEIGHTS_FILE = "ngram-prior.f16.bin";

const priorFileSchema = z
  .object({
    format: z.literal(PRIOR_FORMAT),
    version: z.literal(1),
    /** The model (model.json name) whose imageVectors the regression reads. */
    model: z.string(),
    encoder: z.string(),
    /** The model's weightsDigest: a prior is only used with the weights it was fitted to. */
    weights: z.string(),
    parts: z.array(z.number().int().positive()).min(1),
    mean: z.array(z.number()),
    ngrams: z.array(z.string().min(1)).min(1),
    documentFrequency: z.array(z.number().int().nonnegative()),
    photos: z.number().int().positive(),
    unseenFrequency: z.number().positive(),
    settings: z
      .object({
        weight: z.number().nonnegative().default(DEFAULT_PRIOR_SETTINGS.weight),
        alpha: z.number().min(0).max(2).default(DEFAULT_PRIOR_SETTINGS.alpha),
      })
      .strict(),
    /** How it was fitted (memory, minPhotos, ridge), for the record. */
    source: z.record(z.string(), z.unknown()),
  })
  .strict();

export interface LoadedPrior {
  prior: NgramPrior;
  model: string;
  encoder: string;
  weights: string;
  source: Record<string, unknown>;
}

export interface SavePriorOptions {
  model: string;
  encoder: string;
  weights: string;
  source: Record<string, unknown>;
}

/** Writes ngram-prior.json and ngram-prior.f16.bin into a model folder, each atomically. */
export async function saveNgramPrior(
  dir: string,
  data: NgramPriorData,
  options: SavePriorOptions,
): Promise<void> {
  const half = float32ToFloat16(data.weights);
  await writeFileAtomic(
    path.join(dir, PRIOR_WEIGHTS_FILE),
    new Uint8Array(half.buffer, half.byteOffset, half.byteLength),
  );
  const file: z.input<typeof priorFileSchema> = {
    format: PRIOR_FORMAT,
    version: 1,
    model: options.model,
    encoder: options.encoder,
    weights: options.weights,
    parts: data.parts,
    mean: Array.from(data.mean),
    ngrams: data.ngrams,
    documentFrequency: data.documentFrequency,
    photos: data.photos,
    unseenFrequency: data.unseenFrequency,
    settings: data.settings,
    source: options.source,
  };
  await writeFileAtomic(path.join(dir, PRIOR_FILE), `${JSON.stringify(file)}\n`);
}

export function hasNgramPrior(dir: string): boolean {
  return existsSync(path.join(dir, PRIOR_FILE));
}

export async function loadNgramPrior(dir: string): Promise<LoadedPrior> {
  let raw: string;
  try {
    raw = await readFile(path.join(dir, PRIOR_FILE), "utf8");
  } catch {
    throw new Error(
      `no n-gram prior in ${dir} (expected ${PRIOR_FILE}): fit one with \`captionkit prior --memory <dir> --out ${dir}\``,
    );
  }
  const parsed = priorFileSchema.safeParse(JSON.parse(raw));
  if (!parsed.success)
    throw new Error(`${dir}/${PRIOR_FILE} is not an n-gram prior: ${parsed.error.message}`);
  const file = parsed.data;
  const bytes = await readFile(path.join(dir, PRIOR_WEIGHTS_FILE));
  const width = file.parts.reduce((a, b) => a + b, 0);
  const expected = (width + 1) * (file.ngrams.length + 1);
  if (bytes.byteLength !== expected * 2)
    throw new Error(
      `${dir}/${PRIOR_WEIGHTS_FILE} does not match ${PRIOR_FILE} ((${width} + 1) x (${file.ngrams.length} + 1) weights)`,
    );
  const aligned = new Uint16Array(bytes.byteLength / 2);
  new Uint8Array(aligned.buffer).set(bytes);
  const prior = new NgramPrior({
    parts: file.parts,
    mean: Float32Array.from(file.mean),
    ngrams: file.ngrams,
    documentFrequency: file.documentFrequency,
    photos: file.photos,
    unseenFrequency: file.unseenFrequency,
    weights: float16ToFloat32(aligned),
    settings: file.settings,
  });
  return { prior, model: file.model, encoder: file.encoder, weights: file.weights, source: file.source };
}

import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { Vocabulary, type VocabularyJson } from "../data/vocabulary.js";
import { type PreprocessSpec, preprocessSpecSchema } from "../image/preprocess.js";
import { decoderConfigSchema, decoderShapeSchema } from "./config-schema.js";
import {
  ENSEMBLE_FORMAT,
  type EnsembleFile,
  type EnsembleMeta,
  loadEnsemble,
  saveEnsemble,
} from "./ensemble-io.js";
import { createDecoder } from "./factory.js";
import { float16ToFloat32, float32ToFloat16 } from "./float16.js";
import type { CaptionDecoder, DecoderConfig, DecoderShape } from "./types.js";

export const MODEL_FORMAT = "captionkit-model";
export const MODEL_VERSION = 1;
export const MODEL_FILE = "model.json";
export const WEIGHTS_FILE = "weights.bin";

export type WeightsDtype = "float16" | "float32";

const weightEntrySchema = z
  .object({
    name: z.string().min(1),
    shape: z.array(z.number().int().min(0)),
    /** "variable": trainable weight; "buffer": non-trainable state (batch-norm statistics). */
    kind: z.enum(["variable", "buffer"]),
    /** Byte offset in weights.bin. */
    offset: z.number().int().min(0),
  })
  .strict();

const vocabularySchema = z
  .object({ tokens: z.array(z.string()).min(4), minCount: z.number(), maxLength: z.number() })
  .strict();

export const modelFileSchema = z
  .object({
    format: z.literal(MODEL_FORMAT),
    version: z.literal(MODEL_VERSION),
    name: z.string().min(1),
    /** Encoder registry name (src/encoders createEncoder). */
    encoder: z.string().min(1),
    decoder: decoderConfigSchema,
    shape: decoderShapeSchema,
    vocabulary: vocabularySchema,
    preprocessing: preprocessSpecSchema,
    weights: z
      .object({
        file: z.string().min(1),
        dtype: z.enum(["float16", "float32"]),
        byteLength: z.number().int().min(0),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        entries: z.array(weightEntrySchema),
      })
      .strict(),
    /** Caption every image and its mirror image together by default (test-time mirroring). */
    mirror: z.boolean().default(false),
    /** Free-form: the metrics the model reached (e.g. val BLEU-4, CIDEr-D at beam 1 and 3). */
    metrics: z.record(z.string(), z.unknown()).default({}),
    /** Free-form: how it was trained (config, time, tokens/s, ...). */
    training: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type ModelFile = z.output<typeof modelFileSchema>;

/** Everything about a model besides its weights. */
export interface ModelMeta {
  name: string;
  encoder: string;
  vocabulary: VocabularyJson;
  preprocessing: PreprocessSpec;
  /**
   * Whether the captioner, by default, averages the model over each image and its mirror image
   * (test-time mirroring: twice the encoder and decoder work for a measured quality gain).
   */
  mirror?: boolean;
  metrics?: Record<string, unknown>;
  training?: Record<string, unknown>;
}

export interface SaveModelOptions {
  /** On-disk precision of weights.bin. Default float16 (half the size; decoding results barely move). */
  dtype?: WeightsDtype;
}

export interface LoadedModel {
  /** One decoder, or an EnsembleDecoder for an ensemble folder (src/decoders/ensemble-io.ts). */
  decoder: CaptionDecoder;
  vocabulary: Vocabulary;
  meta: ModelMeta;
  /**
   * sha256 of weights.bin (of an ensemble: of its members' digests): what a model's n-gram prior is
   * checked against, so that a prior never outlives the weights it was fitted to.
   */
  weightsDigest: string;
}

/**
 * Writes `model.json` and `weights.bin` into dir (created if needed); other files in dir (MODEL_CARD.md,
 * optimizer state) are left alone. Each file is written to a temporary name and renamed into place,
 * weights first, so a crash never leaves a truncated file, and model.json (which carries the weights'
 * sha256) never points at weights it was not written with.
 */
export async function saveModel(
  dir: string,
  decoder: CaptionDecoder,
  meta: ModelMeta,
  options: SaveModelOptions = {},
): Promise<ModelFile> {
  const dtype = options.dtype ?? "float16";
  if (meta.vocabulary.tokens.length !== decoder.shape.vocabSize) {
    throw new Error(
      `saveModel: vocabulary has ${meta.vocabulary.tokens.length} tokens but the decoder expects ${decoder.shape.vocabSize}`,
    );
  }
  const tensors = [
    ...[...decoder.variables].map(([name, v]) => ({ name, v, kind: "variable" as const })),
    ...[...(decoder.buffers ?? [])].map(([name, v]) => ({ name, v, kind: "buffer" as const })),
  ];
  const chunks: Uint8Array[] = [];
  const entries: ModelFile["weights"]["entries"] = [];
  let offset = 0;
  for (const { name, v, kind } of tensors) {
    const values = (await v.data()) as Float32Array;
    const encoded = dtype === "float16" ? float32ToFloat16(values) : Float32Array.from(values);
    const bytes = new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    entries.push({ name, shape: [...v.shape], kind, offset });
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  const weights = Buffer.concat(chunks);
  const file: ModelFile = {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    name: meta.name,
    encoder: meta.encoder,
    decoder: decoder.config,
    shape: decoder.shape,
    vocabulary: meta.vocabulary,
    preprocessing: meta.preprocessing,
    mirror: meta.mirror ?? false,
    weights: {
      file: WEIGHTS_FILE,
      dtype,
      byteLength: weights.byteLength,
      sha256: createHash("sha256").update(weights).digest("hex"),
      entries,
    },
    metrics: meta.metrics ?? {},
    training: meta.training ?? {},
  };
  modelFileSchema.parse(file); // never write a file loadModel would reject
  await mkdir(dir, { recursive: true });
  await writeAtomic(path.join(dir, WEIGHTS_FILE), weights);
  await writeAtomic(path.join(dir, MODEL_FILE), `${JSON.stringify(file, null, 2)}\n`);
  return file;
}

async function writeAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const temp = `${target}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(temp, data, { flush: true });
  await rename(temp, target);
}

async function readModelJson(dir: string): Promise<unknown> {
  const file = path.join(dir, MODEL_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error(`no model at ${dir} (missing ${MODEL_FILE}): pass --model <folder with model.json>`);
    }
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message})`);
  }
}

function parseModelFile(dir: string, json: unknown): ModelFile {
  const parsed = modelFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${path.join(dir, MODEL_FILE)} is not a captionkit model: ${issue?.path.join(".")}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

/** Reads and validates a single model's model.json only (no weights): cheap, for listing and checks. */
export async function readModelFile(dir: string): Promise<ModelFile> {
  return parseModelFile(dir, await readModelJson(dir));
}

/**
 * Loads a model folder written by saveModel (decoder with its weights, vocabulary and metadata), or an
 * ensemble folder written by saveEnsemble (its members' decoders averaged).
 */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const json = await readModelJson(dir);
  const format = (json as { format?: unknown } | null)?.format;
  if (format === ENSEMBLE_FORMAT) return loadEnsemble(dir, json, loadSingleModel);
  return loadSingleModel(dir, json);
}

/**
 * Writes an ensemble folder from two or more model folders trained on one vocabulary: members are
 * copied in, and loadModel then averages their next-word probabilities (src/decoders/ensemble.ts).
 */
export function saveEnsembleModel(
  dir: string,
  memberDirs: readonly string[],
  meta: EnsembleMeta,
): Promise<EnsembleFile> {
  return saveEnsemble(dir, memberDirs, meta, readModelFile);
}

async function loadSingleModel(dir: string, json?: unknown): Promise<LoadedModel & { file: ModelFile }> {
  const file = parseModelFile(dir, json ?? (await readModelJson(dir)));
  const weightsPath = path.join(dir, file.weights.file);
  const bytes = await readFile(weightsPath).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${weightsPath}: ${err.code === "ENOENT" ? "missing weights file" : err.message}`);
  });
  if (bytes.byteLength !== file.weights.byteLength) {
    throw new Error(
      `${weightsPath} has ${bytes.byteLength} bytes, model.json expects ${file.weights.byteLength}`,
    );
  }
  if (createHash("sha256").update(bytes).digest("hex") !== file.weights.sha256) {
    throw new Error(`${weightsPath} does not match the sha256 in model.json (a partial copy?)`);
  }
  const vocabulary = new Vocabulary(file.vocabulary);
  const decoder = buildDecoder(file.decoder, file.shape, bytes, file.weights.dtype, file.weights.entries);
  const meta: ModelMeta = {
    name: file.name,
    encoder: file.encoder,
    vocabulary: file.vocabulary,
    preprocessing: file.preprocessing,
    mirror: file.mirror,
    metrics: file.metrics,
    training: file.training,
  };
  return { decoder, vocabulary, meta, weightsDigest: file.weights.sha256, file };
}

function buildDecoder(
  config: DecoderConfig,
  shape: DecoderShape,
  bytes: Buffer,
  dtype: WeightsDtype,
  entries: ModelFile["weights"]["entries"],
): CaptionDecoder {
  const decoder = createDecoder(config, shape, 0);
  try {
    const targets = new Map<string, tf.Variable>([...decoder.variables, ...(decoder.buffers ?? [])]);
    const seen = new Set<string>();
    const bytesPer = dtype === "float16" ? 2 : 4;
    for (const entry of entries) {
      const variable = targets.get(entry.name);
      if (!variable)
        throw new Error(`weights.bin has ${entry.name}, which this ${config.kind} decoder does not`);
      if (entry.shape.join("x") !== variable.shape.join("x")) {
        throw new Error(`weight ${entry.name}: shape [${entry.shape}] on disk, [${variable.shape}] expected`);
      }
      const count = variable.size;
      if (entry.offset + count * bytesPer > bytes.byteLength)
        throw new Error(`weight ${entry.name} overruns weights.bin`);
      // Copy out: Buffer's byteOffset in its pool need not be aligned for a typed-array view.
      const raw = bytes.subarray(entry.offset, entry.offset + count * bytesPer);
      const aligned = new Uint8Array(raw).buffer;
      const values =
        dtype === "float16" ? float16ToFloat32(new Uint16Array(aligned)) : new Float32Array(aligned);
      tf.tidy(() => variable.assign(tf.tensor(values, variable.shape)));
      seen.add(entry.name);
    }
    const missing = [...targets.keys()].filter((name) => !seen.has(name));
    if (missing.length > 0) throw new Error(`weights.bin lacks ${missing.slice(0, 5).join(", ")}`);
    return decoder;
  } catch (err) {
    decoder.dispose();
    throw err;
  }
}

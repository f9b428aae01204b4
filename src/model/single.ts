import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../core/atomic.js";
import { float16ToFloat32, float32ToFloat16 } from "../core/float16.js";
import { Vocabulary } from "../data/vocabulary.js";
import { createDecoder } from "../decoders/factory.js";
import type { CaptionDecoder, DecoderConfig, DecoderShape } from "../decoders/types.js";
import {
  type LoadedModel,
  MODEL_FILE,
  MODEL_FORMAT,
  MODEL_VERSION,
  type ModelFile,
  type ModelMeta,
  modelFileSchema,
  type SaveModelOptions,
  WEIGHTS_FILE,
  type WeightsDtype,
} from "./format.js";

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
  await writeFileAtomic(path.join(dir, WEIGHTS_FILE), weights);
  await writeFileAtomic(path.join(dir, MODEL_FILE), `${JSON.stringify(file, null, 2)}\n`);
  return file;
}

export async function readModelJson(dir: string): Promise<unknown> {
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

/** A single model folder read and verified (weights against model.json's sha256), decoder not built. */
export interface ReadModel extends Omit<LoadedModel, "decoder"> {
  file: ModelFile;
  bytes: Buffer;
}

export async function readSingleModel(dir: string, json?: unknown): Promise<ReadModel> {
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
  const meta: ModelMeta = {
    name: file.name,
    encoder: file.encoder,
    vocabulary: file.vocabulary,
    preprocessing: file.preprocessing,
    mirror: file.mirror,
    metrics: file.metrics,
    training: file.training,
  };
  return {
    vocabulary: new Vocabulary(file.vocabulary),
    meta,
    weightsDigest: file.weights.sha256,
    file,
    bytes,
  };
}

/** Loads a single model folder written by saveModel. */
export async function loadSingleModel(
  dir: string,
  json?: unknown,
): Promise<LoadedModel & { file: ModelFile }> {
  const read = await readSingleModel(dir, json);
  const { file } = read;
  const decoder = buildDecoder(
    file.decoder,
    file.shape,
    read.bytes,
    file.weights.dtype,
    file.weights.entries,
  );
  return { decoder, vocabulary: read.vocabulary, meta: read.meta, weightsDigest: read.weightsDigest, file };
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

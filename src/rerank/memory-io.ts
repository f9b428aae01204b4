import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../core/atomic.js";
import { float16ToFloat32, float32ToFloat16 } from "../core/float16.js";
import { CaptionMemory, type CaptionMemoryData, DEFAULT_MEMORY_SETTINGS } from "./caption-memory.js";

export const MEMORY_FORMAT = "captionkit-caption-memory";
export const MEMORY_FILE = "memory.json";
export const MEMORY_VECTORS_FILE = "memory.f16.bin";

const settingsSchema = z
  .object({
    k: z.number().int().positive().default(DEFAULT_MEMORY_SETTINGS.k),
    weight: z.number().nonnegative().default(DEFAULT_MEMORY_SETTINGS.weight),
    alpha: z.number().min(0).max(2).default(DEFAULT_MEMORY_SETTINGS.alpha),
  })
  .strict();

const memoryFileSchema = z
  .object({
    format: z.literal(MEMORY_FORMAT),
    version: z.literal(1),
    /** The model (model.json name) whose imageVectors the entries hold: a memory fits that model only. */
    model: z.string(),
    encoder: z.string(),
    parts: z.array(z.number().int().positive()).min(1),
    mean: z.array(z.number()),
    settings: settingsSchema,
    /** Where the captions came from (dataset file and split), for the record. */
    source: z.record(z.string(), z.unknown()),
    entries: z.array(z.object({ id: z.string(), captions: z.array(z.string()).min(1) }).strict()),
  })
  .strict();

export type MemoryFile = z.output<typeof memoryFileSchema>;

/** A memory with what identifies it: the model it was built for, and its entry ids. */
export interface LoadedMemory {
  memory: CaptionMemory;
  model: string;
  encoder: string;
  ids: string[];
  source: Record<string, unknown>;
}

export interface SaveMemoryOptions {
  model: string;
  encoder: string;
  ids: readonly string[];
  source: Record<string, unknown>;
}

/** Writes memory.json (captions, settings) and memory.f16.bin (entry vectors), each atomically. */
export async function saveCaptionMemory(
  dir: string,
  data: CaptionMemoryData,
  options: SaveMemoryOptions,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const half = float32ToFloat16(data.vectors);
  await writeFileAtomic(
    path.join(dir, MEMORY_VECTORS_FILE),
    new Uint8Array(half.buffer, half.byteOffset, half.byteLength),
  );
  const file: MemoryFile = {
    format: MEMORY_FORMAT,
    version: 1,
    model: options.model,
    encoder: options.encoder,
    parts: data.parts,
    mean: Array.from(data.mean),
    settings: data.settings,
    source: options.source,
    entries: options.ids.map((id, i) => ({
      id,
      captions: (data.captions[i] ?? []).map((words) => words.join(" ")),
    })),
  };
  await writeFileAtomic(path.join(dir, MEMORY_FILE), `${JSON.stringify(file)}\n`);
}

export async function loadCaptionMemory(dir: string): Promise<LoadedMemory> {
  let raw: string;
  try {
    raw = await readFile(path.join(dir, MEMORY_FILE), "utf8");
  } catch {
    throw new Error(
      `no caption memory in ${dir} (expected ${MEMORY_FILE}): build one with \`captionkit memory --model <dir> --dataset <captions> --split train --out ${dir}\``,
    );
  }
  const parsed = memoryFileSchema.safeParse(JSON.parse(raw));
  if (!parsed.success)
    throw new Error(`${dir}/${MEMORY_FILE} is not a caption memory: ${parsed.error.message}`);
  const file = parsed.data;
  const bytes = await readFile(path.join(dir, MEMORY_VECTORS_FILE));
  const width = file.parts.reduce((a, b) => a + b, 0);
  if (bytes.byteLength !== file.entries.length * width * 2)
    throw new Error(
      `${dir}/${MEMORY_VECTORS_FILE} does not match ${MEMORY_FILE} (${file.entries.length} x ${width})`,
    );
  const aligned = new Uint16Array(bytes.byteLength / 2);
  new Uint8Array(aligned.buffer).set(bytes);
  const memory = new CaptionMemory({
    parts: file.parts,
    mean: Float32Array.from(file.mean),
    vectors: float16ToFloat32(aligned),
    captions: file.entries.map((e) => e.captions.map((c) => c.split(" ").filter(Boolean))),
    settings: file.settings,
  });
  return {
    memory,
    model: file.model,
    encoder: file.encoder,
    ids: file.entries.map((e) => e.id),
    source: file.source,
  };
}

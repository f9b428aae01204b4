import { readFileSync, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { type ChunkIndex, chunkBinFile, chunkIndexFile, chunkIndexSchema } from "./format.js";

/**
 * A chunk counts as committed only if its .json parses and its .bin has the recorded size. The .bin is
 * renamed into place before the .json is written, so a .bin without .json (killed in between) is
 * ignored and recomputed.
 */
function validate(
  raw: string | undefined,
  chunk: number,
  binSize: number | undefined,
): ChunkIndex | undefined {
  if (raw === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const parsed = chunkIndexSchema.safeParse(json);
  if (!parsed.success || parsed.data.chunk !== chunk) return undefined;
  return binSize === parsed.data.bytes ? parsed.data : undefined;
}

/** The committed index of a chunk, or undefined if the chunk is missing or incomplete. */
export async function readChunkIndex(dir: string, chunk: number): Promise<ChunkIndex | undefined> {
  const raw = await readFile(path.join(dir, chunkIndexFile(chunk)), "utf8").catch(() => undefined);
  const bin = await stat(path.join(dir, chunkBinFile(chunk))).catch(() => undefined);
  return validate(raw, chunk, bin?.size);
}

export function readChunkIndexSync(dir: string, chunk: number): ChunkIndex | undefined {
  let raw: string | undefined;
  let size: number | undefined;
  try {
    raw = readFileSync(path.join(dir, chunkIndexFile(chunk)), "utf8");
    size = statSync(path.join(dir, chunkBinFile(chunk))).size;
  } catch {
    return undefined;
  }
  return validate(raw, chunk, size);
}

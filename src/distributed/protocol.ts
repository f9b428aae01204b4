import { createHash } from "node:crypto";
import type { ImageFeatures, ProcessedImage } from "../search/pipeline.js";

/** Default BullMQ queue name; producers and workers of one library must agree on it. */
export const DEFAULT_QUEUE = "captionkit";

/** What the producer asks for: the models every result must come from. */
export interface ModelSpec {
  captionModel: string;
  /** sha256 of the caption model's weights: two folders of one name are not taken for the same model. */
  captionDigest?: string;
  embeddingModel?: string;
}

/** One job: a batch of image paths that every worker can read (shared storage). */
export interface JobData {
  spec: ModelSpec;
  paths: string[];
}

interface WireFeatures {
  encoder: string;
  /** float32 bytes, base64: exact, so a distributed index stores what a local one does */
  pooled: string;
  grid?: string;
  regions?: number;
}

export type WireResult =
  | { caption: string; confidence: number; features: WireFeatures[] }
  | { error: string };

/** A job's return value (BullMQ stores it as JSON). */
export interface JobResult {
  worker: string;
  results: WireResult[];
}

/**
 * A job id from the spec and each image's path and content hash: a restarted producer forms the same
 * batches, so adding them again finds the jobs (and results) already there instead of redoing them.
 */
export function jobId(spec: ModelSpec, images: readonly { path: string; hash?: string }[]): string {
  const h = createHash("sha256").update(JSON.stringify(spec));
  for (const image of images) h.update(`\0${image.path}\0${image.hash ?? ""}`);
  return h.digest("hex").slice(0, 32);
}

const b64 = (values: Float32Array) =>
  Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString("base64");

function floats(text: string): Float32Array {
  const bytes = Buffer.from(text, "base64");
  // copied: a base64 decode's buffer may sit unaligned in Node's pool
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function toWire(result: ProcessedImage | Error): WireResult {
  if (result instanceof Error) return { error: result.message };
  return {
    caption: result.caption,
    confidence: result.confidence,
    features: result.features.map((f) => ({
      encoder: f.encoder,
      pooled: b64(f.pooled),
      ...(f.grid ? { grid: b64(f.grid), regions: f.regions } : {}),
    })),
  };
}

export function fromWire(result: WireResult): ProcessedImage | Error {
  if ("error" in result) return new Error(result.error);
  return {
    caption: result.caption,
    confidence: result.confidence,
    features: result.features.map(
      (f): ImageFeatures => ({
        encoder: f.encoder,
        pooled: floats(f.pooled),
        ...(f.grid ? { grid: floats(f.grid), regions: f.regions } : {}),
      }),
    ),
  };
}

/** BullMQ connection options from a redis:// or rediss:// URL (user, password and db number included). */
export function redisConnection(url: string): {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: object;
  maxRetriesPerRequest: null;
} {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--redis must be a URL like redis://host:6379, got "${url}"`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new Error(`--redis must start with redis:// or rediss://, got "${url}"`);
  }
  const db = parsed.pathname.replace(/^\//, "");
  return {
    host: parsed.hostname || "127.0.0.1",
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(parsed.protocol === "rediss:" ? { tls: {} } : {}),
    // BullMQ workers block on Redis; it requires this so that ioredis retries forever instead of failing
    maxRetriesPerRequest: null,
  };
}

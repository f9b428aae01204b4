import { createHash } from "node:crypto";
import type { CaptionOptions, CaptionResult } from "../generation/types.js";
import { ImageError, type ImageErrorCode, isImageError } from "../image/errors.js";
import { packFeatures, unpackFeatures } from "../search/indexer.js";
import type { ProcessedImage } from "../search/pipeline.js";

/** Default BullMQ queue name; producers and workers of one library must agree on it. */
export const DEFAULT_QUEUE = "captionkit";

/** What the producer asks for: the models every result must come from. */
export interface ModelSpec {
  captionModel: string;
  /** sha256 of the caption model's weights: two folders of one name are not taken for the same model. */
  captionDigest?: string;
  embeddingModel?: string;
}

/**
 * One job: a batch of image paths that every worker can read (shared storage). Job name "index":
 * captions and features for the index; "caption": caption results (beam, alternatives) as
 * `captionkit caption` prints them.
 */
export interface JobData {
  spec: ModelSpec;
  paths: string[];
  /** "caption" jobs: the caption options (beam, alternatives, maxPixels). */
  options?: CaptionOptions;
}

/** A "caption" job's outcome per image. */
export type WireCaption = { result: CaptionResult } | WireError;

/** An error as sent: an ImageError keeps its code and file, so records read as a local run's. */
export interface WireError {
  error: string;
  code?: ImageErrorCode;
  file?: string;
}

export function errorToWire(error: Error): WireError {
  return isImageError(error)
    ? { error: error.message, code: error.code, file: error.file }
    : { error: error.message };
}

export function errorFromWire(wire: WireError): Error {
  if (wire.code === undefined || wire.file === undefined) return new Error(wire.error);
  const prefix = `${wire.file}: `;
  return new ImageError(
    wire.code,
    wire.file,
    wire.error.startsWith(prefix) ? wire.error.slice(prefix.length) : wire.error,
  );
}

/** An image's features as the index stores them (packFeatures): float16 pooled, 8-bit grid, base64. */
interface WireFeatures {
  encoder: string;
  pooled: string;
  grid?: string;
}

export type WireResult = { caption: string; confidence: number; features: WireFeatures[] } | WireError;

/** A job's return value (BullMQ stores it as JSON). */
export interface JobResult {
  worker: string;
  /** "index" jobs */
  results?: WireResult[];
  /** "caption" jobs */
  captions?: WireCaption[];
}

/**
 * A job id from the spec and each image's path and content hash: a restarted producer forms the same
 * batches, so adding them again finds the jobs (and results) already there instead of redoing them.
 */
export function jobId(
  spec: ModelSpec,
  images: readonly { path: string; hash?: string }[],
  options?: CaptionOptions,
): string {
  const h = createHash("sha256").update(JSON.stringify([spec, options ?? null]));
  for (const image of images) h.update(`\0${image.path}\0${image.hash ?? ""}`);
  return h.digest("hex").slice(0, 32);
}

// Sent as stored, a quarter of float32's size; unpacking and packing again gives the same bytes
// (float16 round-trips, and so does a quantized row: its min and step are recomputed exactly), so a
// queued index holds what a local one does (src/cli/commands/worker.test.ts compares them).
export function toWire(result: ProcessedImage | Error): WireResult {
  if (result instanceof Error) return errorToWire(result);
  return {
    caption: result.caption,
    confidence: result.confidence,
    features: result.features.map((f) => {
      const packed = packFeatures(f);
      return {
        encoder: packed.encoder,
        pooled: packed.pooled.toString("base64"),
        ...(packed.grid ? { grid: packed.grid.toString("base64") } : {}),
      };
    }),
  };
}

export function fromWire(result: WireResult): ProcessedImage | Error {
  if ("error" in result) return errorFromWire(result);
  return {
    caption: result.caption,
    confidence: result.confidence,
    features: result.features.map((f) =>
      unpackFeatures({
        encoder: f.encoder,
        pooled: Buffer.from(f.pooled, "base64"),
        grid: f.grid ? Buffer.from(f.grid, "base64") : null,
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

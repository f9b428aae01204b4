import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Captioner, CaptionOptions } from "../generation/types.js";
import { isImageError } from "../image/index.js";
import { captionEach, type Settled } from "./captioner.js";
import { isLowConfidence, presentCaption } from "./confidence.js";
import type { MetadataWriter } from "./metadata.js";
import type { DetectedObject } from "./object-tagger.js";
import type { ResultsLog } from "./results-log.js";
import type { AltTextRecord, MetadataTarget } from "./types.js";

export interface CaptionFilesOptions {
  beam?: number;
  /** Alternatives per image besides the best caption. Default 2. */
  alternatives?: number;
  /** Captioner calls in flight at once (overlaps file reading and metadata writing with the model). Default 2. */
  concurrency?: number;
  /** Images per captioner call. Default 8. */
  batchSize?: number;
  /** Captions below it get "low_confidence": true and are written hedged ("Possibly: ..."). */
  minConfidence?: number;
  /** Write `<image>.xmp` with dc:description. */
  xmpSidecar?: boolean;
  /** Write XMP dc:description and EXIF ImageDescription into the image file. */
  embed?: boolean;
  /** Keep `<image>_original` when embedding (and `<image>.xmp_original` when replacing a person's sidecar). Default true. */
  backup?: boolean;
  /** Replace descriptions captionkit did not write. Default false: keep them and list them in `kept_description`. */
  overwrite?: boolean;
  /** Refuse images with more pixels than this. Default the library's DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
  /** Adds `objects` to each captioned image's record (e.g. ObjectTagger.tagImage). */
  tagObjects?: (path: string) => Promise<DetectedObject[]>;
}

/**
 * Splits the inputs into those still to caption and those the results log already holds. With `retryKept`
 * (--overwrite), files whose metadata was left alone because a person had written a description are redone.
 */
export function planBatch(
  paths: readonly string[],
  log?: ResultsLog,
  options: { retryKept?: boolean } = {},
): { todo: string[]; skipped: string[] } {
  if (!log) return { todo: [...paths], skipped: [] };
  const todo: string[] = [];
  const skipped: string[] = [];
  for (const path of paths) (log.has(resolve(path), options) ? skipped : todo).push(path);
  return { todo, skipped };
}

/**
 * Captions files and yields one record per input, in input order. A file that cannot be read or decoded
 * yields an error record and the batch goes on. Metadata is written before the record is yielded, and the
 * record's `file` stamp is taken after it, so that resuming recognises files that were just embedded into.
 */
export async function* captionFiles(
  paths: readonly string[],
  captioner: Captioner,
  options: CaptionFilesOptions = {},
): AsyncGenerator<AltTextRecord> {
  const batchSize = Math.max(1, options.batchSize ?? 8);
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const captionOptions: CaptionOptions = {
    ...(options.beam !== undefined ? { beam: options.beam } : {}),
    alternatives: options.alternatives ?? 2,
    ...(options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {}),
  };
  // exiftool-vendored costs ~0.1 s to import: only runs that write metadata load it
  const writer =
    options.xmpSidecar || options.embed ? new (await import("./metadata.js")).MetadataWriter() : undefined;
  const chunks: string[][] = [];
  for (let i = 0; i < paths.length; i += batchSize) chunks.push(paths.slice(i, i + batchSize));

  // A sliding window of `concurrency` chunks: yield the oldest when done, then start the next.
  const inFlight: Promise<AltTextRecord[]>[] = [];
  let next = 0;
  const start = () => {
    const chunk = chunks[next++]!;
    const work = captionEach(captioner, chunk, captionOptions).then((outcomes) =>
      Promise.all(chunk.map((path, i) => toRecord(path, outcomes[i]!, captioner.modelName, options, writer))),
    );
    // Keep a rejection from being reported as unhandled before it is awaited in order.
    work.catch(() => {});
    inFlight.push(work);
  };
  try {
    while (next < chunks.length && inFlight.length < concurrency) start();
    while (inFlight.length > 0) {
      const records = await inFlight.shift()!;
      if (next < chunks.length) start();
      yield* records;
    }
  } finally {
    await Promise.allSettled(inFlight);
    await writer?.close();
  }
}

async function toRecord(
  path: string,
  settled: Settled,
  model: string,
  options: CaptionFilesOptions,
  writer: MetadataWriter | undefined,
): Promise<AltTextRecord> {
  if (settled.error) {
    const error = settled.error;
    return {
      image: path,
      error: stripPath(error.message, path),
      code: isImageError(error) ? error.code : "error",
      ...(await stamp(path)),
    };
  }
  const outcome = settled.result;
  const record: AltTextRecord = {
    image: path,
    caption: outcome.caption,
    confidence: outcome.confidence,
    alternatives: outcome.alternatives,
    ...(options.minConfidence !== undefined
      ? { low_confidence: isLowConfidence(outcome.confidence, options.minConfidence) }
      : {}),
    model,
  };
  if (options.tagObjects) record.objects = await options.tagObjects(path);
  if (writer) {
    const description = presentCaption(outcome.caption, outcome.confidence, options.minConfidence);
    const write = { backup: options.backup ?? true, overwrite: options.overwrite ?? false };
    const kept: MetadataTarget[] = [];
    try {
      if (options.xmpSidecar) {
        const sidecar = await writer.writeSidecar(path, description, write);
        if (sidecar.written) record.xmp_sidecar = `${path}.xmp`;
        else kept.push("xmp_sidecar");
        if (sidecar.backup) record.backup = sidecar.backup;
      }
      if (options.embed) {
        const embedded = await writer.embed(path, description, write);
        record.embedded = embedded.written;
        if (!embedded.written) kept.push("embed");
        if (embedded.backup) record.backup = embedded.backup;
      }
      if (kept.length > 0) record.kept_description = kept;
    } catch (error) {
      record.error = `writing metadata failed: ${error instanceof Error ? error.message : String(error)}`;
      record.code = "metadata";
    }
  }
  return { ...record, ...(await stamp(path)) };
}

async function stamp(path: string): Promise<Pick<AltTextRecord, "file">> {
  try {
    const info = await stat(path);
    return { file: { path: resolve(path), size: info.size, mtime_ms: Math.round(info.mtimeMs) } };
  } catch {
    return {};
  }
}

/** ImageError messages start with the file name, which the record already carries in "image". */
function stripPath(message: string, path: string): string {
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}

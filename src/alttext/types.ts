import type { CaptionAlternative } from "../generation/types.js";
import type { DetectedObject } from "./object-tagger.js";

export type MetadataTarget = "xmp_sidecar" | "embed";

/** One line of `captionkit caption --format jsonl` and of the --out results file. */
export interface AltTextRecord {
  /** The path as given on the command line (or as expanded from a folder or glob). */
  image: string;
  caption?: string;
  confidence?: number;
  alternatives?: CaptionAlternative[];
  /** Present when a threshold was set: true below it (text output then hedges the caption). */
  low_confidence?: boolean;
  /** With --objects: COCO objects found by CenterNet-512, best first, boxes as fractions [x, y, w, h]. */
  objects?: DetectedObject[];
  model?: string;
  /** Where the description was written, when asked. */
  xmp_sidecar?: string;
  embedded?: boolean;
  /** Copy of the file before embedding (exiftool's `<file>_original`), unless --no-backup. */
  backup?: string;
  /**
   * Where a description captionkit did not write was found and kept, so nothing was written there
   * (--overwrite replaces it). The caption is still in this record.
   */
  kept_description?: MetadataTarget[];
  /** What went wrong; the batch goes on. */
  error?: string;
  /** ImageError code (empty, not_an_image, corrupt, ...) or "metadata" for sidecar/embedding failures. */
  code?: string;
  /** Identity used to resume: absolute path, size and mtime after any embedding. */
  file?: { path: string; size: number; mtime_ms: number };
}

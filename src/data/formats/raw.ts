import type { DatasetFormat } from "../types.js";

/** One image as a reader found it, before image paths are resolved and splits applied. */
export interface RawImage {
  id: string;
  /** The image file as the dataset names it: relative (to the image folder) or absolute. */
  file: string;
  captions: string[];
  split?: string;
  /** Line where the image first appears, for later errors. */
  line?: number;
}

export interface ParsedDataset {
  format: DatasetFormat;
  images: RawImage[];
  /** True when the file records each image's split itself (Karpathy JSON, JSONL with "split"). */
  ownSplits: boolean;
  /** Extra folder names that may hold the images, e.g. "train2014" for captions_train2014.json. */
  folderHints: string[];
  /** Non-fatal findings, e.g. COCO images without any caption. */
  warnings: string[];
}

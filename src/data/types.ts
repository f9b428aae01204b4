/** One image with its human captions, whatever file format it came from. */
export interface CaptionedImage {
  /** Stable id: the file name for Flickr/TSV, the COCO image id as a string, or the JSONL path. */
  id: string;
  /** Absolute path of the image file. */
  path: string;
  /** Raw (untokenized) human captions, at least one. */
  captions: string[];
  /** Split name if the source file records one (Karpathy JSON, JSONL); split lists assign it otherwise. */
  split?: string;
}

export type DatasetFormat = "flickr-token" | "tsv" | "coco" | "karpathy" | "jsonl";

export interface CaptionDataset {
  /** The dataset file it was read from. */
  source: string;
  format: DatasetFormat;
  images: CaptionedImage[];
  /** Folder that relative image paths were resolved against. */
  imageRoot?: string;
  /** The selection this dataset holds: "all", split name(s), or a split-list file path. */
  split?: string;
  /** Split names known for the source (its own split field or a splits/ folder); empty when none. */
  splitNames?: string[];
  /** Non-fatal problems met while loading (skipped missing images, list names not in the dataset). */
  warnings?: string[];
}

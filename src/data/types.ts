/** One image with its human captions, whatever file format it came from. */
export interface CaptionedImage {
  /** Stable id: the file name for Flickr/TSV, the COCO image id as a string, or the JSONL path. */
  id: string;
  /** Absolute path of the image file. */
  path: string;
  /** Raw (untokenized) human captions. */
  captions: string[];
  /** Split name if the source file records one (Karpathy JSON); split lists assign it otherwise. */
  split?: string;
}

export type DatasetFormat = "flickr-token" | "tsv" | "coco" | "karpathy" | "jsonl";

export interface CaptionDataset {
  /** The dataset file it was read from. */
  source: string;
  format: DatasetFormat;
  images: CaptionedImage[];
}

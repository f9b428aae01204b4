export interface CaptionAlternative {
  caption: string;
  confidence: number;
}

export interface CaptionResult {
  /** Sentence-cased, ends with a period, never contains <unk>. */
  caption: string;
  /** 0..1, derived from the mean token log-probability (see generation docs). */
  confidence: number;
  /** Next-best beams, best first (empty for greedy). */
  alternatives: CaptionAlternative[];
  /** Words of the caption, as generated (lowercase tokens). */
  tokens: string[];
  /** Show-Attend-Tell only: per generated word, attention weights over the grid regions (gridH*gridW). */
  attention?: number[][];
  /** [gridH, gridW] of the attention maps. */
  attentionGrid?: [number, number];
}

export interface CaptionOptions {
  /** Beam size; 1 means greedy. Default 3. */
  beam?: number;
  maxLength?: number;
  /** Alternatives to return besides the best caption. Default beam - 1. */
  alternatives?: number;
  /** Length normalisation: beams are ranked by log p / length^alpha (0 = raw log p, 1 = mean). Default 0. */
  alpha?: number;
  /** Never repeat an n-gram of this many words in a caption (0 = off). Default DEFAULT_NO_REPEAT_NGRAM. */
  noRepeatNgram?: number;
  /** Refuse images with more pixels than this (decompression-bomb guard). Default DEFAULT_MAX_PIXELS (40 MP). */
  maxPixels?: number;
}

/** Repeated trigrams are blocked unless a caller asks otherwise (see docs/generation.md for the measured effect). */
export const DEFAULT_NO_REPEAT_NGRAM = 3;

/** A loaded model that captions images end to end (decode + encode + generate). */
export interface Captioner {
  readonly modelName: string;
  /** Image inputs are file paths or encoded image bytes. One result per input, same order. */
  caption(images: ReadonlyArray<string | Uint8Array>, options?: CaptionOptions): Promise<CaptionResult[]>;
  dispose(): void;
}

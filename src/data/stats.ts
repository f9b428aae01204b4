import { ptbTokenize } from "./ptb-tokenizer.js";
import type { CaptionDataset } from "./types.js";
import { Vocabulary } from "./vocabulary.js";

/** Width of a caption-length histogram bin, in tokens; the last bin is open-ended. */
const BIN_WIDTH = 5;
const OPEN_BIN_FROM = 31;

export interface HistogramBin {
  /** Inclusive token-count bounds; `to` is null for the open last bin. */
  from: number;
  to: number | null;
  count: number;
}

export interface LengthSummary {
  min: number;
  mean: number;
  /** Nearest-rank percentiles. */
  median: number;
  p95: number;
  max: number;
  histogram: HistogramBin[];
}

export interface DatasetStats {
  source: string;
  format: string;
  imageRoot: string | null;
  split: string;
  images: number;
  captions: number;
  captionsPerImage: { min: number; mean: number; max: number };
  /** Images per split among those loaded ("(none)" for images in no split); null when no splits are known. */
  splits: Record<string, number> | null;
  vocabulary: {
    minCount: number;
    /** Including the four special tokens. */
    size: number;
    /** Distinct words before the min-count cut. */
    distinctWords: number;
    /** Share of caption tokens the vocabulary covers (the rest become <unk>). */
    coverage: number;
  };
  /** In PTB tokens, as the model and the metrics see captions. */
  captionLength: LengthSummary;
  warnings: string[];
}

/** Counts for `captionkit dataset stats`, computed over the images the dataset holds (one split or all). */
export function datasetStats(dataset: CaptionDataset, options: { minCount?: number } = {}): DatasetStats {
  const tokenized = dataset.images.flatMap((image) => image.captions.map((caption) => ptbTokenize(caption)));
  const vocabulary = Vocabulary.build(tokenized, { minCount: options.minCount ?? 5 });
  const counts = new Map<string, number>();
  for (const caption of tokenized) for (const word of caption) counts.set(word, (counts.get(word) ?? 0) + 1);
  const totalTokens = tokenized.reduce((sum, caption) => sum + caption.length, 0);
  const covered = vocabulary.tokens.reduce((sum, word) => sum + (counts.get(word) ?? 0), 0);
  const perImage = dataset.images.map((image) => image.captions.length);
  return {
    source: dataset.source,
    format: dataset.format,
    imageRoot: dataset.imageRoot ?? null,
    split: dataset.split ?? "all",
    images: dataset.images.length,
    captions: tokenized.length,
    captionsPerImage: { min: minOf(perImage), mean: round(mean(perImage)), max: maxOf(perImage) },
    splits: splitCounts(dataset),
    vocabulary: {
      minCount: vocabulary.minCount,
      size: vocabulary.size,
      distinctWords: counts.size,
      coverage: round(totalTokens === 0 ? 0 : covered / totalTokens, 4),
    },
    captionLength: summarizeLengths(tokenized.map((caption) => caption.length)),
    warnings: dataset.warnings ?? [],
  };
}

function splitCounts(dataset: CaptionDataset): Record<string, number> | null {
  if (!dataset.splitNames || dataset.splitNames.length === 0) return null;
  const counts: Record<string, number> = {};
  // With every image loaded, empty splits are worth showing; within one split they are just noise.
  if ((dataset.split ?? "all") === "all") for (const name of dataset.splitNames) counts[name] = 0;
  for (const image of dataset.images) {
    const name = image.split ?? "(none)";
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** min/mean/median/p95/max and 5-token bins up to 30, then one bin for everything longer. */
export function summarizeLengths(lengths: readonly number[]): LengthSummary {
  const sorted = [...lengths].sort((a, b) => a - b);
  const histogram: HistogramBin[] = [];
  for (let to = BIN_WIDTH; to < OPEN_BIN_FROM; to += BIN_WIDTH) {
    // The first bin starts at 0 so that captions tokenized to nothing (only punctuation) are counted.
    histogram.push({ from: to === BIN_WIDTH ? 0 : to - BIN_WIDTH + 1, to, count: 0 });
  }
  histogram.push({ from: OPEN_BIN_FROM, to: null, count: 0 });
  for (const length of sorted) {
    const bin = histogram.find((candidate) => candidate.to === null || length <= candidate.to)!;
    bin.count += 1;
  }
  return {
    min: minOf(sorted),
    mean: round(mean(sorted)),
    median: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    max: maxOf(sorted),
    histogram,
  };
}

/** Nearest-rank percentile of an ascending list: the smallest value with at least p% of values at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function minOf(values: readonly number[]): number {
  return values.reduce(
    (low, value) => Math.min(low, value),
    values.length === 0 ? 0 : Number.POSITIVE_INFINITY,
  );
}

function maxOf(values: readonly number[]): number {
  return values.reduce((high, value) => Math.max(high, value), 0);
}

function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

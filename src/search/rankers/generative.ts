import type { ImageFeatures } from "../pipeline.js";

/**
 * Lowest mean per-token log-probability of a good generative match (a per-token perplexity of about 55),
 * on top of the shortlist's own verdict: on Flickr8k val, 95.5% of captions score at least this on their
 * own photo, and 75.8% on other photos (bench/generative-thresholds.ts), so it only drops the worst.
 */
export const GENERATIVE_MIN_SCORE = -4;

/**
 * Generative ranking: how likely the caption model finds the query as a caption of each image,
 * length-normalised (mean log-probability per token) so that long queries are not punished.
 */
export interface CaptionScorer {
  /** Encoder whose features the caption model reads (the index stores them under this name). */
  readonly encoder: string;
  /** Mean per-token log p(text | image) for each image, same order; batched over images. */
  score(text: string, images: readonly ImageFeatures[]): Promise<number[]>;
  dispose(): void;
}

/**
 * Whether features stored under `stored` can feed a scorer reading `encoder`: the same encoder, or a
 * "+"-joined one that starts with it (an ensemble's grid, whose first channels are its first part's).
 */
export function scorerReads(encoder: string, stored: string): boolean {
  return stored === encoder || stored.startsWith(`${encoder}+`);
}

/**
 * How a caption below the confidence threshold is worded wherever it is shown as text or written into a
 * file: a hedge, so that a guess is not presented to a reader as fact.
 */
export const HEDGE_PREFIX = "Possibly: ";

export function isLowConfidence(confidence: number, minConfidence: number | undefined): boolean {
  return minConfidence !== undefined && confidence < minConfidence;
}

/** "A dog runs." -> "Possibly: a dog runs." (keeps capitals of words like "I" or names after the first). */
export function hedge(caption: string): string {
  if (caption.startsWith(HEDGE_PREFIX)) return caption;
  const firstWord = caption.split(/\s/)[0] ?? "";
  // "I" and acronyms ("TV") keep their capitals; the sentence-case capital of any other word goes.
  const keep = firstWord === "I" || firstWord.startsWith("I'") || /^[A-Z]{2,}/.test(firstWord);
  const start = keep ? caption.charAt(0) : caption.charAt(0).toLowerCase();
  return `${HEDGE_PREFIX}${start}${caption.slice(1)}`;
}

/** The text to show or store for a caption, hedged when it is below the threshold. */
export function presentCaption(
  caption: string,
  confidence: number,
  minConfidence: number | undefined,
): string {
  return isLowConfidence(confidence, minConfidence) ? hedge(caption) : caption;
}

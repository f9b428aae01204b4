/** Tokens that attach to the previous word when a caption is written out. */
const ATTACH_LEFT = new Set([
  ",",
  ".",
  "!",
  "?",
  ";",
  ":",
  "'s",
  "'",
  "n't",
  "'re",
  "'ll",
  "'ve",
  "'m",
  "'d",
]);
const TRAILING_PUNCTUATION = /[\s.,;:!?]+$/;

/**
 * Writes generated (PTB-tokenized, lowercase) words as a sentence: clitics and punctuation re-attached
 * ("dog 's" -> "dog's"), first letter capitalised, exactly one final period.
 *
 * @example
 * formatCaption(["a", "dog", "'s", "ball", "on", "the", "grass"]) // "A dog's ball on the grass."
 */
export function formatCaption(words: readonly string[]): string {
  let text = "";
  for (const word of words) {
    if (!word) continue;
    text += text && !ATTACH_LEFT.has(word) ? ` ${word}` : word;
  }
  text = text.replace(TRAILING_PUNCTUATION, "");
  if (!text) return "";
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

/**
 * Confidence of a generated sequence: exp(mean token log-probability), i.e. the geometric mean of the
 * probabilities the model gave each chosen token (including <end>). In 0..1; 1 means every token was
 * certain. Independent of length, so long and short captions compare fairly.
 */
export function confidenceOf(tokenLogProbs: readonly number[]): number {
  if (tokenLogProbs.length === 0) return 0;
  const mean = tokenLogProbs.reduce((a, b) => a + b, 0) / tokenLogProbs.length;
  return Math.min(1, Math.max(0, Math.exp(mean)));
}

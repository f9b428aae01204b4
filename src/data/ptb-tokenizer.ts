// Placeholder: the metrics work replaces this with the COCO-reference PTB tokenizer.
export function ptbTokenize(text: string): string[] {
  return text.toLowerCase().split(/\s+/).filter(Boolean);
}

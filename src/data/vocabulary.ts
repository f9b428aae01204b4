import { z } from "zod";
import { ptbTokenize } from "./ptb-tokenizer.js";
import type { CaptionDataset, CaptionedImage } from "./types.js";

export const SPECIAL_TOKENS = ["<pad>", "<start>", "<end>", "<unk>"] as const;
export const PAD_ID = 0;
export const START_ID = 1;
export const END_ID = 2;
export const UNK_ID = 3;

export interface VocabularyJson {
  /** Index = token id; the first four are the special tokens in SPECIAL_TOKENS order. */
  tokens: string[];
  minCount: number;
  maxLength: number;
}

// model.json is user-editable: unknown keys or wrong types are errors, not silently ignored.
const vocabularyJsonSchema = z.strictObject({
  tokens: z.array(z.string()).min(SPECIAL_TOKENS.length),
  minCount: z.number().int().min(1),
  maxLength: z.number().int().min(1),
});

export interface VocabularyOptions {
  /** Words seen fewer times than this become <unk>. Default 5. */
  minCount?: number;
  /** Longest caption kept, in words (longer ones are truncated when encoded). Default 20. */
  maxLength?: number;
}

/** Word <-> id mapping saved with every model, so a model never depends on the data it was built from. */
export class Vocabulary {
  readonly tokens: readonly string[];
  readonly minCount: number;
  readonly maxLength: number;
  private readonly ids: Map<string, number>;

  constructor(json: VocabularyJson) {
    SPECIAL_TOKENS.forEach((special, index) => {
      if (json.tokens[index] !== special) throw new Error(`vocabulary: token ${index} must be ${special}`);
    });
    this.tokens = json.tokens;
    this.minCount = json.minCount;
    this.maxLength = json.maxLength;
    this.ids = new Map(json.tokens.map((token, index) => [token, index]));
    if (this.ids.size !== json.tokens.length) throw new Error("vocabulary: duplicate tokens");
  }

  /** Checks a parsed `vocabulary` JSON value (e.g. from model.json) and builds the vocabulary. */
  static fromJSON(value: unknown): Vocabulary {
    const result = vocabularyJsonSchema.safeParse(value);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new Error(`vocabulary: ${issue.path.join(".") || "value"}: ${issue.message}`);
    }
    return new Vocabulary(result.data);
  }

  /** Builds from tokenized captions; ties in frequency are broken alphabetically so builds are reproducible. */
  static build(tokenizedCaptions: Iterable<readonly string[]>, options: VocabularyOptions = {}): Vocabulary {
    const minCount = options.minCount ?? 5;
    const maxLength = options.maxLength ?? 20;
    const counts = new Map<string, number>();
    for (const caption of tokenizedCaptions) {
      for (const word of caption) counts.set(word, (counts.get(word) ?? 0) + 1);
    }
    const kept = [...counts.entries()]
      .filter(([word, count]) => count >= minCount && !(SPECIAL_TOKENS as readonly string[]).includes(word))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([word]) => word);
    return new Vocabulary({ tokens: [...SPECIAL_TOKENS, ...kept], minCount, maxLength });
  }

  get size(): number {
    return this.tokens.length;
  }

  idOf(word: string): number {
    return this.ids.get(word) ?? UNK_ID;
  }

  /** <start> w1 .. wn <end>, truncated to maxLength words. */
  encode(words: readonly string[]): number[] {
    return [START_ID, ...words.slice(0, this.maxLength).map((word) => this.idOf(word)), END_ID];
  }

  /** Words up to the first <end>, skipping <start> and <pad>. */
  decode(ids: Iterable<number>): string[] {
    const words: string[] = [];
    for (const id of ids) {
      if (id === END_ID) break;
      if (id === START_ID || id === PAD_ID) continue;
      words.push(this.tokens[id] ?? "<unk>");
    }
    return words;
  }

  toJSON(): VocabularyJson {
    return { tokens: [...this.tokens], minCount: this.minCount, maxLength: this.maxLength };
  }
}

/** Tokenizes every caption with the COCO-style PTB tokenizer and builds the vocabulary from them. */
export function buildVocabulary(
  dataset: Pick<CaptionDataset, "images">,
  options: VocabularyOptions = {},
): Vocabulary {
  return Vocabulary.build(tokenizedCaptions(dataset.images), options);
}

function* tokenizedCaptions(images: readonly CaptionedImage[]): Generator<string[]> {
  for (const image of images) for (const caption of image.captions) yield ptbTokenize(caption);
}

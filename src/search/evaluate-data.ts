import { loadDataset } from "../data/load.js";
import { pairsFromFeatureCache } from "./embedding/cached-pairs.js";
import type { JointEmbedding } from "./embedding/model.js";
import type { RetrievalSet } from "./evaluate.js";

export interface RetrievalDataOptions {
  dataset: string;
  split: string;
  images?: string;
  /** Feature cache root (folders written by `captionkit features`). */
  features: string;
  embedding?: JointEmbedding;
  /** Caption model folder, for generated captions (fts, fusion) and generative scores. */
  captionModel?: string;
  /** Only build what these need. */
  needCaptions: boolean;
  /** Use only the first N human captions of each image as queries (generative ranking is slow). */
  captionsPerImage?: number;
  log?: (line: string) => void;
}

/** A RetrievalSet from a dataset split and cached features: nothing is re-encoded. */
export async function buildRetrievalSet(
  options: RetrievalDataOptions,
): Promise<{ set: RetrievalSet; dispose: () => void }> {
  const dataset = await loadDataset(options.dataset, {
    split: options.split,
    images: options.images,
    checkImages: false,
  });
  const images = dataset.images;
  const perImage = options.captionsPerImage ?? Number.POSITIVE_INFINITY;
  const set: RetrievalSet = {
    ids: images.map((i) => i.id),
    captions: images.map((i) => i.captions.slice(0, perImage)),
  };
  if (options.embedding) {
    set.pooled = pairsFromFeatureCache(options.features, options.embedding.config.encoder, images).pooled;
  }
  let dispose = () => {};
  if (options.needCaptions) {
    const { openCachedCaptionModel } = await import("./caption-model.js");
    const model = await openCachedCaptionModel(options.captionModel, options.features, set.ids);
    options.log?.(`captioning ${set.ids.length} images from cached features with ${model.name}`);
    set.generated = await model.captionAll((done) => {
      if (done % 256 === 0) options.log?.(`captioned ${done}/${set.ids.length}`);
    });
    set.scoreText = (text, indices) => model.score(text, indices);
    dispose = () => model.dispose();
  }
  return { set, dispose };
}

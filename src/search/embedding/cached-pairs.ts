import { readdirSync } from "node:fs";
import path from "node:path";
import type { CaptionedImage } from "../../data/types.js";
import { type FeatureStore, openFeatureStore } from "../../features/reader.js";
import type { ImageFeatures } from "../pipeline.js";
import type { EmbeddingPairs } from "./train.js";

/**
 * The feature store under `root` that holds `encoder` features for every id given (several stores
 * may exist per encoder: per split, per precision, with augmented views). Prefers a store with
 * augmented views when `preferViews`, else the smallest that covers the ids.
 */
export function findFeatureStore(
  root: string,
  encoder: string,
  ids: readonly string[],
  preferViews = false,
  allowPartial = false,
): FeatureStore {
  const candidates: FeatureStore[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(root);
  } catch {
    throw new Error(`no feature cache at ${root}; run \`captionkit features --encoder ${encoder}\` first`);
  }
  for (const name of names) {
    let store: FeatureStore;
    try {
      store = openFeatureStore(path.join(root, name), { allowPartial });
    } catch {
      continue;
    }
    const have = new Set(store.ids);
    const covers = allowPartial ? ids.some((id) => have.has(id)) : ids.every((id) => have.has(id));
    if (store.encoder === encoder && covers) candidates.push(store);
    else store.close();
  }
  if (candidates.length === 0) {
    throw new Error(
      `no complete ${encoder} feature store under ${root} covers these ${ids.length} images; ` +
        `run \`captionkit features --encoder ${encoder} --out ${root}/...\``,
    );
  }
  const views = (s: FeatureStore) => s.manifest.views;
  candidates.sort((a, b) =>
    preferViews ? views(b) - views(a) || a.ids.length - b.ids.length : a.ids.length - b.ids.length,
  );
  for (const extra of candidates.slice(1)) extra.close();
  return candidates[0]!;
}

/**
 * Pooled vectors of a "+"-joined encoder, assembled from one cached store per part (the same layout a
 * ConcatEncoder produces: parts end to end), with the dataset's captions. View 0 is the plain image;
 * with `views`, augmented views come back as extra [images, dim] arrays for training.
 */
export function pairsFromFeatureCache(
  root: string,
  encoder: string,
  images: readonly CaptionedImage[],
  options: { views?: boolean; allowPartial?: boolean } = {},
): EmbeddingPairs & { parts: number[]; pooledViews: Float32Array[] } {
  const stores = encoder.split("+").map((part) =>
    findFeatureStore(
      root,
      part,
      images.map((image) => image.id),
      options.views,
      options.allowPartial,
    ),
  );
  // a store still being extracted (allowPartial, for early experiments) limits the images to those done
  const usable = images.filter((image) => stores.every((s) => s.has(image.id)));
  const ids = usable.map((image) => image.id);
  try {
    const parts = stores.map((s) => s.pooledSize);
    const dim = parts.reduce((a, b) => a + b, 0);
    const viewCount = Math.min(...stores.map((s) => s.manifest.views));
    const arrays = Array.from(
      { length: options.views ? viewCount : 1 },
      () => new Float32Array(ids.length * dim),
    );
    ids.forEach((id, i) => {
      arrays.forEach((array, view) => {
        let offset = 0;
        for (const store of stores) {
          array.set(store.readPooled(id, view), i * dim + offset);
          offset += store.pooledSize;
        }
      });
    });
    return {
      ids,
      pooled: arrays[0]!,
      pooledViews: arrays.slice(1),
      captions: usable.map((image) => image.captions),
      parts,
    };
  } finally {
    for (const s of stores) s.close();
  }
}

/** Grid + pooled features of a (possibly "+"-joined) encoder per image, assembled from the cache. */
export function featuresFromCache(root: string, encoder: string, ids: readonly string[]): ImageFeatures[] {
  const stores = encoder.split("+").map((part) => findFeatureStore(root, part, ids));
  try {
    const [h, w] = stores[0]!.gridShape;
    const regions = h * w;
    const channels = stores.reduce((s, st) => s + st.gridShape[2], 0);
    const pooledSize = stores.reduce((s, st) => s + st.pooledSize, 0);
    return ids.map((id) => {
      const grid = new Float32Array(regions * channels);
      const pooled = new Float32Array(pooledSize);
      let channelOffset = 0;
      let pooledOffset = 0;
      for (const store of stores) {
        const f = store.read(id);
        const c = store.gridShape[2];
        for (let r = 0; r < regions; r++)
          grid.set(f.grid.subarray(r * c, (r + 1) * c), r * channels + channelOffset);
        pooled.set(f.pooled, pooledOffset);
        channelOffset += c;
        pooledOffset += store.pooledSize;
      }
      return { encoder, pooled, grid, regions };
    });
  } finally {
    for (const s of stores) s.close();
  }
}

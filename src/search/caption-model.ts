import { defaultModelDir } from "../core/paths.js";
import { type FeatureBatch, selectRows } from "../decoders/runtime.js";
import type { DecoderShape } from "../decoders/types.js";
import { type CaptionModelFolder, loadCaptionModel, searchScorerDir } from "../model/load.js";
import type { ImageFeatures } from "./pipeline.js";
import type { CaptionScorer } from "./rankers/generative.js";

/**
 * Stored index features as a FeatureBatch of the caption model's shape. Features with more channels
 * per region (a "+"-joined encoder's, e.g. an ensemble's, when the model reads its first part) give
 * their first `featureDim` channels of every region and their first `pooledDim` pooled values.
 */
export function storedFeatureBatch(features: readonly ImageFeatures[], shape: DecoderShape): FeatureBatch {
  const { regions, featureDim, pooledDim } = shape;
  const grid = new Float32Array(features.length * regions * featureDim);
  const pooled = new Float32Array(features.length * pooledDim);
  features.forEach((f, i) => {
    const channels = f.grid ? f.grid.length / regions : 0;
    if (!f.grid || !Number.isInteger(channels) || channels < featureDim) {
      throw new Error(
        `caption model needs ${regions}x${featureDim} grid features, got ${f.grid?.length ?? 0} values`,
      );
    }
    if (channels === featureDim) grid.set(f.grid, i * regions * featureDim);
    else
      for (let r = 0; r < regions; r++)
        grid.set(f.grid.subarray(r * channels, r * channels + featureDim), (i * regions + r) * featureDim);
    if (pooledDim > 0) pooled.set(f.pooled.subarray(0, pooledDim), i * pooledDim);
  });
  return { count: features.length, grid, pooled };
}

/**
 * Generative ranking's scorer: the caption model the index recorded (loaded by the one loader), or the
 * member its ensemble names as `searchScorer`, scoring a query against stored features.
 */
export async function loadCaptionScorer(dir: string | undefined): Promise<CaptionScorer> {
  const model = await loadCaptionModel(await searchScorerDir(dir ?? defaultModelDir()));
  return {
    encoder: model.info.encoder,
    async score(text, images) {
      return [...model.scoreText(text, storedFeatureBatch(images, model.runtime.shape))];
    },
    dispose: () => model.dispose(),
  };
}

export interface CachedCaptionModel {
  name: string;
  /** Generated caption of every image, in id order. */
  captionAll(onBatch?: (done: number) => void): Promise<string[]>;
  score(text: string, images: readonly number[]): Promise<Float32Array>;
  dispose(): void;
}

/**
 * A caption model over cached features of a fixed image list (retrieval evaluation): the grids are read
 * from the feature cache once and kept as float32, so re-scoring candidates never touches the disk.
 */
export async function openCachedCaptionModel(
  dir: string | undefined,
  featuresRoot: string,
  ids: readonly string[],
): Promise<CachedCaptionModel> {
  const folder = dir ?? defaultModelDir();
  const model = await loadCaptionModel(folder);
  // generative scores come from the member search uses (searchScorerDir), loaded on first use
  const scorerDir = await searchScorerDir(folder);
  const { featuresFromCache } = await import("./embedding/cached-pairs.js");
  const features = featuresFromCache(featuresRoot, model.info.encoder, ids);
  const all = storedFeatureBatch(features, model.runtime.shape);
  let scorer: Promise<{ model: CaptionModelFolder; all: FeatureBatch }> | undefined;
  const scoring = () => {
    scorer ??=
      scorerDir === folder
        ? Promise.resolve({ model, all })
        : loadCaptionModel(scorerDir).then((m) => ({
            model: m,
            all: storedFeatureBatch(features, m.runtime.shape),
          }));
    return scorer;
  };
  return {
    name: model.info.name,
    async captionAll(onBatch) {
      const out: string[] = [];
      for (let start = 0; start < all.count; start += 32) {
        const rows = Array.from({ length: Math.min(32, all.count - start) }, (_, i) => start + i);
        const results = model.caption([selectRows(all, rows)], { beam: 3, alternatives: 0 });
        out.push(...results.map((r) => r.caption));
        onBatch?.(out.length);
      }
      return out;
    },
    async score(text, images) {
      const { model: scoringModel, all: scored } = await scoring();
      return scoringModel.scoreText(text, selectRows(scored, [...images]));
    },
    dispose: () => {
      model.dispose();
      if (scorerDir !== folder) void scorer?.then((s) => s.model.dispose());
    },
  };
}

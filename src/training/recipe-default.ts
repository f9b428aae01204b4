import type { RecipeStep } from "./recipe-steps.js";

/**
 * The shipped default model (models/default, MODEL_CARD.md "Training"), step by step: five shared
 * stages on CenterNet features (224 pixels, then 448, then 448 with two stored augmented views),
 * c448x (stage 5 moved to the 720-channel cut), the two members with their fine-tuned encoder tails
 * on block 12's cache, the mirrored ensemble, a caption memory of the train split and the n-gram prior
 * fitted from it. Each feature store is extracted just before the first stage that reads it.
 */
export const DEFAULT_RECIPE: readonly RecipeStep[] = [
  { kind: "features", name: "features-centernet_224", encoder: "centernet_224" },
  {
    kind: "train",
    name: "stage1",
    preset: "configs/flickr8k-transformer.yaml",
    features: ["features-centernet_224"],
  },
  {
    kind: "train",
    name: "stage2",
    preset: "configs/flickr8k-transformer-continue.yaml",
    features: ["features-centernet_224"],
    initFrom: "stage1",
  },
  {
    kind: "train",
    name: "stage3",
    preset: "configs/flickr8k-transformer-stage3.yaml",
    features: ["features-centernet_224"],
    initFrom: "stage2",
  },
  { kind: "features", name: "features-centernet_448", encoder: "centernet_448" },
  {
    kind: "train",
    name: "stage4",
    preset: "configs/flickr8k-transformer-stage4.yaml",
    features: ["features-centernet_448"],
    initFrom: "stage3",
  },
  { kind: "features", name: "features-centernet_448-aug2", encoder: "centernet_448", augment: 2 },
  {
    kind: "train",
    name: "stage5",
    preset: "configs/flickr8k-transformer-stage5.yaml",
    features: ["features-centernet_448-aug2"],
    initFrom: "stage4",
  },
  { kind: "features", name: "features-centernet_448_expand", encoder: "centernet_448_expand" },
  {
    kind: "train",
    name: "c448x",
    preset: "configs/flickr8k-transformer-centernet448-expand.yaml",
    features: ["features-centernet_448_expand"],
    initFrom: "stage5",
  },
  { kind: "features", name: "features-block12", encoder: "centernet_448_block12_grid14" },
  {
    kind: "train",
    name: "member1",
    preset: "configs/flickr8k-transformer-centernet-tail.yaml",
    features: ["features-block12"],
    initFrom: "stage5",
  },
  {
    kind: "train",
    name: "member2",
    preset: "configs/flickr8k-transformer-centernet-tail-expand.yaml",
    features: ["features-block12"],
    initFrom: "c448x",
  },
  {
    kind: "ensemble",
    name: "ensemble",
    members: ["member1", "member2"],
    modelName: "flickr8k-transformer-centernet-tail-ensemble",
    mirror: true,
    searchScorer: 0,
  },
  { kind: "memory", name: "memory", model: "ensemble", split: "train" },
  { kind: "prior", name: "model", model: "ensemble", memory: "memory", minPhotos: 50, ridge: 0.3 },
];
